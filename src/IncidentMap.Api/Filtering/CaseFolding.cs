namespace IncidentMap.Api.Filtering;

/// <summary>
/// CASEI as CQL2 defines it (/req/case-insensitive-comparison/casei-function): Unicode's full case
/// folding, in PostgreSQL 15, which has lower() but no casefold() (PostgreSQL 18 has). lower() already
/// maps every letter that has a lower case; <see cref="Foldings"/> holds what full case folding does
/// beyond that, so <c>CASEI('Straße')</c> is <c>strasse</c> and <c>CASEI('ΟΔΟΣ') = CASEI('Οδος')</c>.
/// </summary>
/// <remarks>
/// Two differences from full case folding are kept, both harmless to comparisons, which fold both sides
/// alike: Cherokee folds to upper case where lower() goes to lower case (the same pairs are equal either
/// way), and İ is i as lower() makes it, not i + U+0307 (so <c>CASEI('İstanbul') = CASEI('istanbul')</c>).
/// <para>
/// The extra mappings (a translate() and a replace() each) cost several microseconds a row, so they run
/// only for text holding a character they concern: text of ASCII alone is told apart by its byte length,
/// any other by one regular expression (<see cref="Trigger"/>), which costs about what lower() does.
/// On a busy 2-core machine, CASEI(title) LIKE CASEI('%strasse%') over 100,000 titles took about 10 %
/// longer than with lower() alone when they were ASCII, 75 % when none was; over the benchmark's million
/// incidents (2 % not ASCII) no difference showed (3.0-4.8 s against 3.1-5.1 s).
/// </para>
/// </remarks>
internal static class CaseFolding
{
    /// <summary>
    /// A character as lower() leaves it, and its full case folding where the two differ (CaseFolding.txt,
    /// status C and F, Unicode 14 as CQL2 cites; Cherokee and İ aside, see the remarks).
    /// </summary>
    internal static readonly (string From, string To)[] Foldings =
    [
        ("\u00B5", "\u03BC"), // µ → μ, micro sign
        ("\u00DF", "ss"), // ß → ss, latin small letter sharp s
        ("\u0149", "\u02BCn"), // ŉ → ʼn, latin small letter n preceded by apostrophe
        ("\u017F", "s"), // ſ → s, latin small letter long s
        ("\u01F0", "j\u030C"), // ǰ → j◌̌, latin small letter j with caron
        ("\u0345", "\u03B9"), // ◌ͅ → ι, combining greek ypogegrammeni
        ("\u0390", "\u03B9\u0308\u0301"), // ΐ → ι◌̈◌́, greek small letter iota with dialytika and tonos
        ("\u03B0", "\u03C5\u0308\u0301"), // ΰ → υ◌̈◌́, greek small letter upsilon with dialytika and tonos
        ("\u03C2", "\u03C3"), // ς → σ, greek small letter final sigma
        ("\u03D0", "\u03B2"), // ϐ → β, greek beta symbol
        ("\u03D1", "\u03B8"), // ϑ → θ, greek theta symbol
        ("\u03D5", "\u03C6"), // ϕ → φ, greek phi symbol
        ("\u03D6", "\u03C0"), // ϖ → π, greek pi symbol
        ("\u03F0", "\u03BA"), // ϰ → κ, greek kappa symbol
        ("\u03F1", "\u03C1"), // ϱ → ρ, greek rho symbol
        ("\u03F5", "\u03B5"), // ϵ → ε, greek lunate epsilon symbol
        ("\u0587", "\u0565\u0582"), // և → եւ, armenian small ligature ech yiwn
        ("\u1C80", "\u0432"), // ᲀ → в, cyrillic small letter rounded ve
        ("\u1C81", "\u0434"), // ᲁ → д, cyrillic small letter long-legged de
        ("\u1C82", "\u043E"), // ᲂ → о, cyrillic small letter narrow o
        ("\u1C83", "\u0441"), // ᲃ → с, cyrillic small letter wide es
        ("\u1C84", "\u0442"), // ᲄ → т, cyrillic small letter tall te
        ("\u1C85", "\u0442"), // ᲅ → т, cyrillic small letter three-legged te
        ("\u1C86", "\u044A"), // ᲆ → ъ, cyrillic small letter tall hard sign
        ("\u1C87", "\u0463"), // ᲇ → ѣ, cyrillic small letter tall yat
        ("\u1C88", "\uA64B"), // ᲈ → ꙋ, cyrillic small letter unblended uk
        ("\u1E96", "h\u0331"), // ẖ → h◌̱, latin small letter h with line below
        ("\u1E97", "t\u0308"), // ẗ → t◌̈, latin small letter t with diaeresis
        ("\u1E98", "w\u030A"), // ẘ → w◌̊, latin small letter w with ring above
        ("\u1E99", "y\u030A"), // ẙ → y◌̊, latin small letter y with ring above
        ("\u1E9A", "a\u02BE"), // ẚ → aʾ, latin small letter a with right half ring
        ("\u1E9B", "\u1E61"), // ẛ → ṡ, latin small letter long s with dot above
        ("\u1F50", "\u03C5\u0313"), // ὐ → υ◌̓, greek small letter upsilon with psili
        ("\u1F52", "\u03C5\u0313\u0300"), // ὒ → υ◌̓◌̀, greek small letter upsilon with psili and varia
        ("\u1F54", "\u03C5\u0313\u0301"), // ὔ → υ◌̓◌́, greek small letter upsilon with psili and oxia
        ("\u1F56", "\u03C5\u0313\u0342"), // ὖ → υ◌̓◌͂, greek small letter upsilon with psili and perispomeni
        ("\u1F80", "\u1F00\u03B9"), // ᾀ → ἀι, greek small letter alpha with psili and ypogegrammeni
        ("\u1F81", "\u1F01\u03B9"), // ᾁ → ἁι, greek small letter alpha with dasia and ypogegrammeni
        ("\u1F82", "\u1F02\u03B9"), // ᾂ → ἂι, greek small letter alpha with psili and varia and ypogegrammeni
        ("\u1F83", "\u1F03\u03B9"), // ᾃ → ἃι, greek small letter alpha with dasia and varia and ypogegrammeni
        ("\u1F84", "\u1F04\u03B9"), // ᾄ → ἄι, greek small letter alpha with psili and oxia and ypogegrammeni
        ("\u1F85", "\u1F05\u03B9"), // ᾅ → ἅι, greek small letter alpha with dasia and oxia and ypogegrammeni
        ("\u1F86", "\u1F06\u03B9"), // ᾆ → ἆι, greek small letter alpha with psili and perispomeni and ypogegrammeni
        ("\u1F87", "\u1F07\u03B9"), // ᾇ → ἇι, greek small letter alpha with dasia and perispomeni and ypogegrammeni
        ("\u1F90", "\u1F20\u03B9"), // ᾐ → ἠι, greek small letter eta with psili and ypogegrammeni
        ("\u1F91", "\u1F21\u03B9"), // ᾑ → ἡι, greek small letter eta with dasia and ypogegrammeni
        ("\u1F92", "\u1F22\u03B9"), // ᾒ → ἢι, greek small letter eta with psili and varia and ypogegrammeni
        ("\u1F93", "\u1F23\u03B9"), // ᾓ → ἣι, greek small letter eta with dasia and varia and ypogegrammeni
        ("\u1F94", "\u1F24\u03B9"), // ᾔ → ἤι, greek small letter eta with psili and oxia and ypogegrammeni
        ("\u1F95", "\u1F25\u03B9"), // ᾕ → ἥι, greek small letter eta with dasia and oxia and ypogegrammeni
        ("\u1F96", "\u1F26\u03B9"), // ᾖ → ἦι, greek small letter eta with psili and perispomeni and ypogegrammeni
        ("\u1F97", "\u1F27\u03B9"), // ᾗ → ἧι, greek small letter eta with dasia and perispomeni and ypogegrammeni
        ("\u1FA0", "\u1F60\u03B9"), // ᾠ → ὠι, greek small letter omega with psili and ypogegrammeni
        ("\u1FA1", "\u1F61\u03B9"), // ᾡ → ὡι, greek small letter omega with dasia and ypogegrammeni
        ("\u1FA2", "\u1F62\u03B9"), // ᾢ → ὢι, greek small letter omega with psili and varia and ypogegrammeni
        ("\u1FA3", "\u1F63\u03B9"), // ᾣ → ὣι, greek small letter omega with dasia and varia and ypogegrammeni
        ("\u1FA4", "\u1F64\u03B9"), // ᾤ → ὤι, greek small letter omega with psili and oxia and ypogegrammeni
        ("\u1FA5", "\u1F65\u03B9"), // ᾥ → ὥι, greek small letter omega with dasia and oxia and ypogegrammeni
        ("\u1FA6", "\u1F66\u03B9"), // ᾦ → ὦι, greek small letter omega with psili and perispomeni and ypogegrammeni
        ("\u1FA7", "\u1F67\u03B9"), // ᾧ → ὧι, greek small letter omega with dasia and perispomeni and ypogegrammeni
        ("\u1FB2", "\u1F70\u03B9"), // ᾲ → ὰι, greek small letter alpha with varia and ypogegrammeni
        ("\u1FB3", "\u03B1\u03B9"), // ᾳ → αι, greek small letter alpha with ypogegrammeni
        ("\u1FB4", "\u03AC\u03B9"), // ᾴ → άι, greek small letter alpha with oxia and ypogegrammeni
        ("\u1FB6", "\u03B1\u0342"), // ᾶ → α◌͂, greek small letter alpha with perispomeni
        ("\u1FB7", "\u03B1\u0342\u03B9"), // ᾷ → α◌͂ι, greek small letter alpha with perispomeni and ypogegrammeni
        ("\u1FBE", "\u03B9"), // ι → ι, greek prosgegrammeni
        ("\u1FC2", "\u1F74\u03B9"), // ῂ → ὴι, greek small letter eta with varia and ypogegrammeni
        ("\u1FC3", "\u03B7\u03B9"), // ῃ → ηι, greek small letter eta with ypogegrammeni
        ("\u1FC4", "\u03AE\u03B9"), // ῄ → ήι, greek small letter eta with oxia and ypogegrammeni
        ("\u1FC6", "\u03B7\u0342"), // ῆ → η◌͂, greek small letter eta with perispomeni
        ("\u1FC7", "\u03B7\u0342\u03B9"), // ῇ → η◌͂ι, greek small letter eta with perispomeni and ypogegrammeni
        ("\u1FD2", "\u03B9\u0308\u0300"), // ῒ → ι◌̈◌̀, greek small letter iota with dialytika and varia
        ("\u1FD3", "\u03B9\u0308\u0301"), // ΐ → ι◌̈◌́, greek small letter iota with dialytika and oxia
        ("\u1FD6", "\u03B9\u0342"), // ῖ → ι◌͂, greek small letter iota with perispomeni
        ("\u1FD7", "\u03B9\u0308\u0342"), // ῗ → ι◌̈◌͂, greek small letter iota with dialytika and perispomeni
        ("\u1FE2", "\u03C5\u0308\u0300"), // ῢ → υ◌̈◌̀, greek small letter upsilon with dialytika and varia
        ("\u1FE3", "\u03C5\u0308\u0301"), // ΰ → υ◌̈◌́, greek small letter upsilon with dialytika and oxia
        ("\u1FE4", "\u03C1\u0313"), // ῤ → ρ◌̓, greek small letter rho with psili
        ("\u1FE6", "\u03C5\u0342"), // ῦ → υ◌͂, greek small letter upsilon with perispomeni
        ("\u1FE7", "\u03C5\u0308\u0342"), // ῧ → υ◌̈◌͂, greek small letter upsilon with dialytika and perispomeni
        ("\u1FF2", "\u1F7C\u03B9"), // ῲ → ὼι, greek small letter omega with varia and ypogegrammeni
        ("\u1FF3", "\u03C9\u03B9"), // ῳ → ωι, greek small letter omega with ypogegrammeni
        ("\u1FF4", "\u03CE\u03B9"), // ῴ → ώι, greek small letter omega with oxia and ypogegrammeni
        ("\u1FF6", "\u03C9\u0342"), // ῶ → ω◌͂, greek small letter omega with perispomeni
        ("\u1FF7", "\u03C9\u0342\u03B9"), // ῷ → ω◌͂ι, greek small letter omega with perispomeni and ypogegrammeni
        ("\uFB00", "ff"), // ﬀ → ff, latin small ligature ff
        ("\uFB01", "fi"), // ﬁ → fi, latin small ligature fi
        ("\uFB02", "fl"), // ﬂ → fl, latin small ligature fl
        ("\uFB03", "ffi"), // ﬃ → ffi, latin small ligature ffi
        ("\uFB04", "ffl"), // ﬄ → ffl, latin small ligature ffl
        ("\uFB05", "st"), // ﬅ → st, latin small ligature long s t
        ("\uFB06", "st"), // ﬆ → st, latin small ligature st
        ("\uFB13", "\u0574\u0576"), // ﬓ → մն, armenian small ligature men now
        ("\uFB14", "\u0574\u0565"), // ﬔ → մե, armenian small ligature men ech
        ("\uFB15", "\u0574\u056B"), // ﬕ → մի, armenian small ligature men ini
        ("\uFB16", "\u057E\u0576"), // ﬖ → վն, armenian small ligature vew now
        ("\uFB17", "\u0574\u056D"), // ﬗ → մխ, armenian small ligature men xeh
    ];

    /// <summary>
    /// The characters whose lower() is one of the <see cref="Foldings"/>' From, the From themselves, and
    /// Σ, which lower() may make a final ς (ICU does, at the end of a word). Text without any of them
    /// needs nothing but lower(); unaccent() never makes one (PostgreSQL 15's unaccent.rules), and neither
    /// does lower() nor this folding, so the test may look at the text before ACCENTI and CASEI change it.
    /// </summary>
    internal static readonly string Trigger = Characters();

    private static string Characters()
    {
        var folded = Foldings.Select(f => f.From[0]).ToHashSet();
        return string.Concat(Enumerable.Range(0, char.MaxValue + 1).Select(c => (char)c)
            .Where(c => !char.IsSurrogate(c) && (c == 'Σ' || folded.Contains(char.ToLowerInvariant(c)))));
    }

    /// <summary>
    /// SQL: the full case folding of <paramref name="text"/>; <paramref name="source"/> is the column or
    /// parameter it was computed from (the same, or the text before ACCENTI), which decides whether the
    /// folding needs more than lower(). Every string in it is one of these constants, never a client's.
    /// </summary>
    public static string Sql(string text, string source) =>
        $"(CASE WHEN octet_length({source}) <> char_length({source}) AND {source} ~ '[{Trigger}]' THEN {Full(text)} ELSE lower({text}) END)";

    private static string Full(string text)
    {
        var single = Foldings.Where(f => f.To.Length == 1).ToArray();
        var sql = $"translate(lower({text}), '{string.Concat(single.Select(f => f.From))}', '{string.Concat(single.Select(f => f.To))}')";
        foreach (var (from, to) in Foldings.Where(f => f.To.Length > 1)) sql = $"replace({sql}, '{from}', '{to}')";
        return sql;
    }
}
