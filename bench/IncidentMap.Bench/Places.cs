namespace IncidentMap.Bench;

/// <summary>
/// A city that synthetic incidents cluster around. <see cref="Weight"/> is its share of incidents
/// relative to the others; <see cref="Spread"/> the standard deviation of the scatter, in degrees.
/// </summary>
public sealed record City(string Name, double Lat, double Lon, string Country, string Admin1, double Spread, int Weight);

public static class Places
{
    public static readonly IReadOnlyList<City> Cities =
    [
        new("Homs", 34.73, 36.71, "SY", "Homs", 0.15, 6),
        new("Aleppo", 36.20, 37.16, "SY", "Aleppo", 0.20, 6),
        new("Damascus", 33.51, 36.29, "SY", "Damascus", 0.20, 5),
        new("Idlib", 35.93, 36.63, "SY", "Idlib", 0.25, 5),
        new("Hama", 35.13, 36.75, "SY", "Hama", 0.20, 3),
        new("Raqqa", 35.95, 39.01, "SY", "Ar-Raqqa", 0.30, 3),
        new("Deir ez-Zor", 35.34, 40.14, "SY", "Deir ez-Zor", 0.35, 3),
        new("Daraa", 32.62, 36.10, "SY", "Daraa", 0.20, 2),
        new("Latakia", 35.52, 35.79, "SY", "Lattakia", 0.20, 1),
        new("Baghdad", 33.31, 44.37, "IQ", "Baghdad", 0.20, 5),
        new("Mosul", 36.34, 43.13, "IQ", "Ninewa", 0.20, 4),
        new("Fallujah", 33.35, 43.78, "IQ", "Anbar", 0.15, 2),
        new("Ramadi", 33.42, 43.30, "IQ", "Anbar", 0.15, 2),
        new("Kirkuk", 35.47, 44.39, "IQ", "Kirkuk", 0.25, 2),
        new("Tikrit", 34.60, 43.68, "IQ", "Salah al-Din", 0.20, 1),
        new("Kabul", 34.53, 69.17, "AF", "Kabul", 0.15, 5),
        new("Kandahar", 31.61, 65.71, "AF", "Kandahar", 0.30, 3),
        new("Herat", 34.35, 62.20, "AF", "Herat", 0.30, 2),
        new("Kunduz", 36.73, 68.86, "AF", "Kunduz", 0.25, 2),
        new("Jalalabad", 34.43, 70.45, "AF", "Nangarhar", 0.25, 2),
        new("Lashkar Gah", 31.59, 64.37, "AF", "Helmand", 0.35, 2),
        new("Sanaa", 15.37, 44.19, "YE", "Amanat al Asimah", 0.15, 4),
        new("Aden", 12.79, 45.02, "YE", "Aden", 0.15, 2),
        new("Taiz", 13.58, 44.02, "YE", "Taiz", 0.20, 3),
        new("Hodeidah", 14.80, 42.95, "YE", "Al Hudaydah", 0.25, 2),
        new("Marib", 15.46, 45.32, "YE", "Marib", 0.30, 2),
        new("Mogadishu", 2.05, 45.32, "SO", "Banadir", 0.10, 5),
        new("Kismayo", -0.36, 42.55, "SO", "Lower Juba", 0.25, 1),
        new("Baidoa", 3.12, 43.65, "SO", "Bay", 0.25, 1),
        new("Maiduguri", 11.85, 13.16, "NG", "Borno", 0.40, 4),
        new("Kano", 12.00, 8.52, "NG", "Kano", 0.20, 1),
        new("Abuja", 9.08, 7.40, "NG", "Federal Capital Territory", 0.15, 1),
        new("Lagos", 6.52, 3.38, "NG", "Lagos", 0.15, 1),
        new("Bamako", 12.64, -8.00, "ML", "Bamako", 0.15, 2),
        new("Mopti", 14.49, -4.20, "ML", "Mopti", 0.50, 2),
        new("Gao", 16.27, -0.04, "ML", "Gao", 0.50, 1),
        new("Timbuktu", 16.77, -3.01, "ML", "Timbuktu", 0.50, 1),
        new("Ouagadougou", 12.37, -1.52, "BF", "Centre", 0.15, 1),
        new("Djibo", 14.10, -1.63, "BF", "Sahel", 0.40, 2),
        new("Niamey", 13.51, 2.11, "NE", "Niamey", 0.20, 1),
        new("Kyiv", 50.45, 30.52, "UA", "Kyiv City", 0.15, 3),
        new("Kharkiv", 49.99, 36.23, "UA", "Kharkiv", 0.20, 4),
        new("Donetsk", 48.02, 37.80, "UA", "Donetsk", 0.25, 4),
        new("Bakhmut", 48.60, 38.00, "UA", "Donetsk", 0.15, 3),
        new("Zaporizhzhia", 47.84, 35.14, "UA", "Zaporizhzhia", 0.30, 2),
        new("Kherson", 46.64, 32.62, "UA", "Kherson", 0.25, 2),
        new("Odesa", 46.48, 30.72, "UA", "Odesa", 0.15, 1),
        new("Khartoum", 15.50, 32.56, "SD", "Khartoum", 0.15, 4),
        new("El Fasher", 13.63, 25.35, "SD", "North Darfur", 0.20, 2),
        new("Nyala", 12.05, 24.88, "SD", "South Darfur", 0.20, 1),
        new("El Geneina", 13.45, 22.45, "SD", "West Darfur", 0.20, 1),
        new("Juba", 4.85, 31.58, "SS", "Central Equatoria", 0.30, 1),
        new("Bogotá", 4.71, -74.07, "CO", "Bogotá D.C.", 0.10, 1),
        new("Cali", 3.45, -76.53, "CO", "Valle del Cauca", 0.20, 1),
        new("Medellín", 6.24, -75.58, "CO", "Antioquia", 0.20, 1),
        new("Cúcuta", 7.89, -72.50, "CO", "Norte de Santander", 0.25, 1),
        new("Culiacán", 24.81, -107.39, "MX", "Sinaloa", 0.20, 1),
        new("Goma", -1.68, 29.22, "CD", "North Kivu", 0.30, 2),
        new("Bunia", 1.56, 30.25, "CD", "Ituri", 0.30, 2),
        new("Tripoli", 32.89, 13.19, "LY", "Tripoli", 0.15, 1),
        new("Benghazi", 32.12, 20.09, "LY", "Benghazi", 0.15, 1),
        new("Gaza", 31.50, 34.47, "PS", "Gaza Strip", 0.08, 3),
        new("Mandalay", 21.96, 96.08, "MM", "Mandalay", 0.40, 2),
        new("Peshawar", 34.01, 71.58, "PK", "Khyber Pakhtunkhwa", 0.25, 2),
        new("Quetta", 30.18, 66.99, "PK", "Balochistan", 0.30, 1),
        new("Mekelle", 13.50, 39.47, "ET", "Tigray", 0.30, 1),
        new("Port-au-Prince", 18.59, -72.31, "HT", "Ouest", 0.10, 1),
    ];

    public static City Get(string name) => Cities.Single(c => c.Name == name);

    /// <summary>Armed groups and forces that appear in incidents of each country.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Actors = new Dictionary<string, string[]>
    {
        ["SY"] = ["Syrian Arab Army", "Hayat Tahrir al-Sham", "Islamic State", "Syrian Democratic Forces", "Russian Air Force", "Free Syrian Army"],
        ["IQ"] = ["Iraqi Security Forces", "Islamic State", "Popular Mobilization Forces", "Peshmerga"],
        ["AF"] = ["Taliban", "Afghan National Army", "Islamic State Khorasan", "National Resistance Front"],
        ["YE"] = ["Houthis", "Yemeni Army", "Saudi-led Coalition", "AQAP", "Southern Transitional Council"],
        ["SO"] = ["Al-Shabaab", "Somali National Army", "African Union forces"],
        ["NG"] = ["Boko Haram", "ISWAP", "Nigerian Army", "Civilian JTF"],
        ["ML"] = ["JNIM", "Malian Armed Forces", "Wagner Group", "Islamic State Sahel"],
        ["BF"] = ["JNIM", "Burkinabe Army", "Volunteers for the Defense of the Homeland"],
        ["NE"] = ["Islamic State Sahel", "Nigerien Army"],
        ["UA"] = ["Russian Armed Forces", "Ukrainian Armed Forces"],
        ["SD"] = ["Sudanese Armed Forces", "Rapid Support Forces"],
        ["SS"] = ["SSPDF", "SPLA-IO"],
        ["CO"] = ["ELN", "FARC dissidents", "Colombian Army", "Clan del Golfo"],
        ["MX"] = ["Sinaloa Cartel", "Mexican Army", "CJNG"],
        ["CD"] = ["M23", "FARDC", "ADF", "CODECO"],
        ["LY"] = ["Libyan National Army", "Government of National Unity forces"],
        ["PS"] = ["Israel Defense Forces", "Hamas", "Palestinian Islamic Jihad"],
        ["MM"] = ["Tatmadaw", "People's Defence Force"],
        ["PK"] = ["Pakistan Army", "Tehrik-i-Taliban Pakistan", "Balochistan Liberation Army"],
        ["ET"] = ["Ethiopian National Defense Force", "Tigray Defense Forces", "Eritrean Defence Forces"],
        ["HT"] = ["Viv Ansanm", "Haitian National Police"],
    };

    /// <summary>Actors found anywhere, including in incidents with no country.</summary>
    public static readonly string[] AnyActors = ["Civilians", "Police", "Protesters", "Rioters", "Unidentified armed group"];
}
