using System.Collections.Frozen;
using System.Globalization;

namespace IncidentMap.Api.Imports;

/// <summary>
/// ISO 3166-1 countries for imports that name them by number (ACLED's <c>iso</c>) or by name
/// (ACLED's <c>country</c>). Numbers and names come from Debian's iso-codes 4.15 (all 249 entries),
/// plus the spellings ACLED uses where they differ ("Democratic Republic of Congo", "Russia",
/// "Turkey", "eSwatini" …). Kosovo has no ISO code, and ACLED gives it iso 0: it is XK by name, the
/// user-assigned code GeoNames (so the gazetteer and reverse geocoding), the EU and many others use.
/// </summary>
public static class Countries
{
    // numeric alpha-2 name|other names
    private const string Table = """
        004 AF Afghanistan|Islamic Republic of Afghanistan
        008 AL Albania|Republic of Albania
        010 AQ Antarctica
        012 DZ Algeria|People's Democratic Republic of Algeria
        016 AS American Samoa
        020 AD Andorra|Principality of Andorra
        024 AO Angola|Republic of Angola
        028 AG Antigua and Barbuda
        031 AZ Azerbaijan|Republic of Azerbaijan
        032 AR Argentina|Argentine Republic
        036 AU Australia
        040 AT Austria|Republic of Austria
        044 BS Bahamas|Commonwealth of the Bahamas
        048 BH Bahrain|Kingdom of Bahrain
        050 BD Bangladesh|People's Republic of Bangladesh
        051 AM Armenia|Republic of Armenia
        052 BB Barbados
        056 BE Belgium|Kingdom of Belgium
        060 BM Bermuda
        064 BT Bhutan|Kingdom of Bhutan
        068 BO Bolivia, Plurinational State of|Bolivia|Plurinational State of Bolivia
        070 BA Bosnia and Herzegovina|Republic of Bosnia and Herzegovina
        072 BW Botswana|Republic of Botswana
        074 BV Bouvet Island
        076 BR Brazil|Federative Republic of Brazil
        084 BZ Belize
        086 IO British Indian Ocean Territory
        090 SB Solomon Islands
        092 VG Virgin Islands, British|British Virgin Islands
        096 BN Brunei Darussalam|Brunei
        100 BG Bulgaria|Republic of Bulgaria
        104 MM Myanmar|Republic of Myanmar|Burma
        108 BI Burundi|Republic of Burundi
        112 BY Belarus|Republic of Belarus
        116 KH Cambodia|Kingdom of Cambodia
        120 CM Cameroon|Republic of Cameroon
        124 CA Canada
        132 CV Cabo Verde|Republic of Cabo Verde|Cape Verde
        136 KY Cayman Islands
        140 CF Central African Republic
        144 LK Sri Lanka|Democratic Socialist Republic of Sri Lanka
        148 TD Chad|Republic of Chad
        152 CL Chile|Republic of Chile
        156 CN China|People's Republic of China
        158 TW Taiwan, Province of China|Taiwan
        162 CX Christmas Island
        166 CC Cocos (Keeling) Islands
        170 CO Colombia|Republic of Colombia
        174 KM Comoros|Union of the Comoros
        175 YT Mayotte
        178 CG Congo|Republic of the Congo|Republic of Congo
        180 CD Congo, The Democratic Republic of the|Democratic Republic of Congo|DR Congo
        184 CK Cook Islands
        188 CR Costa Rica|Republic of Costa Rica
        191 HR Croatia|Republic of Croatia
        192 CU Cuba|Republic of Cuba
        196 CY Cyprus|Republic of Cyprus
        203 CZ Czechia|Czech Republic
        204 BJ Benin|Republic of Benin
        208 DK Denmark|Kingdom of Denmark
        212 DM Dominica|Commonwealth of Dominica
        214 DO Dominican Republic
        218 EC Ecuador|Republic of Ecuador
        222 SV El Salvador|Republic of El Salvador
        226 GQ Equatorial Guinea|Republic of Equatorial Guinea
        231 ET Ethiopia|Federal Democratic Republic of Ethiopia
        232 ER Eritrea|the State of Eritrea
        233 EE Estonia|Republic of Estonia
        234 FO Faroe Islands
        238 FK Falkland Islands (Malvinas)|Falkland Islands
        239 GS South Georgia and the South Sandwich Islands
        242 FJ Fiji|Republic of Fiji
        246 FI Finland|Republic of Finland
        248 AX Åland Islands|Aland Islands
        250 FR France|French Republic
        254 GF French Guiana
        258 PF French Polynesia
        260 TF French Southern Territories
        262 DJ Djibouti|Republic of Djibouti
        266 GA Gabon|Gabonese Republic
        268 GE Georgia
        270 GM Gambia|Republic of the Gambia
        275 PS Palestine, State of|the State of Palestine|Palestine
        276 DE Germany|Federal Republic of Germany
        288 GH Ghana|Republic of Ghana
        292 GI Gibraltar
        296 KI Kiribati|Republic of Kiribati
        300 GR Greece|Hellenic Republic
        304 GL Greenland
        308 GD Grenada
        312 GP Guadeloupe
        316 GU Guam
        320 GT Guatemala|Republic of Guatemala
        324 GN Guinea|Republic of Guinea
        328 GY Guyana|Republic of Guyana
        332 HT Haiti|Republic of Haiti
        334 HM Heard Island and McDonald Islands
        336 VA Holy See (Vatican City State)|Vatican City
        340 HN Honduras|Republic of Honduras
        344 HK Hong Kong|Hong Kong Special Administrative Region of China
        348 HU Hungary
        352 IS Iceland|Republic of Iceland
        356 IN India|Republic of India
        360 ID Indonesia|Republic of Indonesia
        364 IR Iran, Islamic Republic of|Iran|Islamic Republic of Iran
        368 IQ Iraq|Republic of Iraq
        372 IE Ireland
        376 IL Israel|State of Israel
        380 IT Italy|Italian Republic
        384 CI Côte d'Ivoire|Republic of Côte d'Ivoire|Ivory Coast|Cote d'Ivoire
        388 JM Jamaica
        392 JP Japan
        398 KZ Kazakhstan|Republic of Kazakhstan
        400 JO Jordan|Hashemite Kingdom of Jordan
        404 KE Kenya|Republic of Kenya
        408 KP Korea, Democratic People's Republic of|North Korea|Democratic People's Republic of Korea
        410 KR Korea, Republic of|South Korea
        414 KW Kuwait|State of Kuwait
        417 KG Kyrgyzstan|Kyrgyz Republic
        418 LA Lao People's Democratic Republic|Laos
        422 LB Lebanon|Lebanese Republic
        426 LS Lesotho|Kingdom of Lesotho
        428 LV Latvia|Republic of Latvia
        430 LR Liberia|Republic of Liberia
        434 LY Libya
        438 LI Liechtenstein|Principality of Liechtenstein
        440 LT Lithuania|Republic of Lithuania
        442 LU Luxembourg|Grand Duchy of Luxembourg
        446 MO Macao|Macao Special Administrative Region of China
        450 MG Madagascar|Republic of Madagascar
        454 MW Malawi|Republic of Malawi
        458 MY Malaysia
        462 MV Maldives|Republic of Maldives
        466 ML Mali|Republic of Mali
        470 MT Malta|Republic of Malta
        474 MQ Martinique
        478 MR Mauritania|Islamic Republic of Mauritania
        480 MU Mauritius|Republic of Mauritius
        484 MX Mexico|United Mexican States
        492 MC Monaco|Principality of Monaco
        496 MN Mongolia
        498 MD Moldova, Republic of|Moldova|Republic of Moldova
        499 ME Montenegro
        500 MS Montserrat
        504 MA Morocco|Kingdom of Morocco
        508 MZ Mozambique|Republic of Mozambique
        512 OM Oman|Sultanate of Oman
        516 NA Namibia|Republic of Namibia
        520 NR Nauru|Republic of Nauru
        524 NP Nepal|Federal Democratic Republic of Nepal
        528 NL Netherlands|Kingdom of the Netherlands
        531 CW Curaçao|Curacao
        533 AW Aruba
        534 SX Sint Maarten (Dutch part)|Sint Maarten
        535 BQ Bonaire, Sint Eustatius and Saba|Caribbean Netherlands
        540 NC New Caledonia
        548 VU Vanuatu|Republic of Vanuatu
        554 NZ New Zealand
        558 NI Nicaragua|Republic of Nicaragua
        562 NE Niger|Republic of the Niger
        566 NG Nigeria|Federal Republic of Nigeria
        570 NU Niue
        574 NF Norfolk Island
        578 NO Norway|Kingdom of Norway
        580 MP Northern Mariana Islands|Commonwealth of the Northern Mariana Islands
        581 UM United States Minor Outlying Islands
        583 FM Micronesia, Federated States of|Federated States of Micronesia|Micronesia
        584 MH Marshall Islands|Republic of the Marshall Islands
        585 PW Palau|Republic of Palau
        586 PK Pakistan|Islamic Republic of Pakistan
        591 PA Panama|Republic of Panama
        598 PG Papua New Guinea|Independent State of Papua New Guinea
        600 PY Paraguay|Republic of Paraguay
        604 PE Peru|Republic of Peru
        608 PH Philippines|Republic of the Philippines
        612 PN Pitcairn
        616 PL Poland|Republic of Poland
        620 PT Portugal|Portuguese Republic
        624 GW Guinea-Bissau|Republic of Guinea-Bissau
        626 TL Timor-Leste|Democratic Republic of Timor-Leste|East Timor
        630 PR Puerto Rico
        634 QA Qatar|State of Qatar
        638 RE Réunion|Reunion
        642 RO Romania
        643 RU Russian Federation|Russia
        646 RW Rwanda|Rwandese Republic
        652 BL Saint Barthélemy|Saint Barthelemy
        654 SH Saint Helena, Ascension and Tristan da Cunha
        659 KN Saint Kitts and Nevis
        660 AI Anguilla
        662 LC Saint Lucia
        663 MF Saint Martin (French part)|Saint Martin
        666 PM Saint Pierre and Miquelon
        670 VC Saint Vincent and the Grenadines
        674 SM San Marino|Republic of San Marino
        678 ST Sao Tome and Principe|Democratic Republic of Sao Tome and Principe
        682 SA Saudi Arabia|Kingdom of Saudi Arabia
        686 SN Senegal|Republic of Senegal
        688 RS Serbia|Republic of Serbia
        690 SC Seychelles|Republic of Seychelles
        694 SL Sierra Leone|Republic of Sierra Leone
        702 SG Singapore|Republic of Singapore
        703 SK Slovakia|Slovak Republic
        704 VN Viet Nam|Vietnam|Socialist Republic of Viet Nam
        705 SI Slovenia|Republic of Slovenia
        706 SO Somalia|Federal Republic of Somalia
        710 ZA South Africa|Republic of South Africa
        716 ZW Zimbabwe|Republic of Zimbabwe
        724 ES Spain|Kingdom of Spain
        728 SS South Sudan|Republic of South Sudan
        729 SD Sudan|Republic of the Sudan
        732 EH Western Sahara
        740 SR Suriname|Republic of Suriname
        744 SJ Svalbard and Jan Mayen
        748 SZ Eswatini|Kingdom of Eswatini|Swaziland
        752 SE Sweden|Kingdom of Sweden
        756 CH Switzerland|Swiss Confederation
        760 SY Syrian Arab Republic|Syria
        762 TJ Tajikistan|Republic of Tajikistan
        764 TH Thailand|Kingdom of Thailand
        768 TG Togo|Togolese Republic
        772 TK Tokelau
        776 TO Tonga|Kingdom of Tonga
        780 TT Trinidad and Tobago|Republic of Trinidad and Tobago
        784 AE United Arab Emirates
        788 TN Tunisia|Republic of Tunisia
        792 TR Türkiye|Republic of Türkiye|Turkey
        795 TM Turkmenistan
        796 TC Turks and Caicos Islands
        798 TV Tuvalu
        800 UG Uganda|Republic of Uganda
        804 UA Ukraine
        807 MK North Macedonia|Republic of North Macedonia|Macedonia
        818 EG Egypt|Arab Republic of Egypt
        826 GB United Kingdom|United Kingdom of Great Britain and Northern Ireland|UK
        831 GG Guernsey
        832 JE Jersey
        833 IM Isle of Man
        834 TZ Tanzania, United Republic of|Tanzania|United Republic of Tanzania
        840 US United States|United States of America|USA
        850 VI Virgin Islands, U.S.|Virgin Islands of the United States|US Virgin Islands
        854 BF Burkina Faso
        858 UY Uruguay|Eastern Republic of Uruguay
        860 UZ Uzbekistan|Republic of Uzbekistan
        862 VE Venezuela, Bolivarian Republic of|Venezuela|Bolivarian Republic of Venezuela
        876 WF Wallis and Futuna
        882 WS Samoa|Independent State of Samoa
        887 YE Yemen|Republic of Yemen
        894 ZM Zambia|Republic of Zambia
        """;

    private static readonly (FrozenDictionary<int, string> ByNumber, FrozenDictionary<string, string> ByName) Lookups = Build();

    private static (FrozenDictionary<int, string>, FrozenDictionary<string, string>) Build()
    {
        var byNumber = new Dictionary<int, string>();
        var byName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in Table.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ', 3);
            byNumber[int.Parse(parts[0], CultureInfo.InvariantCulture)] = parts[1];
            foreach (var name in parts[2].Split('|')) byName[name] = parts[1];
        }
        byName["Kosovo"] = "XK"; // no ISO number
        return (byNumber.ToFrozenDictionary(), byName.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase));
    }

    /// <summary>The alpha-2 code of an ISO 3166-1 numeric code ("760" → "SY").</summary>
    public static string? FromNumber(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && Lookups.ByNumber.TryGetValue(number, out var code)
            ? code : null;

    /// <summary>The alpha-2 code of a country name, ISO or ACLED spelling, any case ("Syria" → "SY").</summary>
    public static string? FromName(string name) => Lookups.ByName.GetValueOrDefault(name.Trim());
}
