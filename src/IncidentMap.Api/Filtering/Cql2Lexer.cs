using System.Text;

namespace IncidentMap.Api.Filtering;

internal enum TokenKind { Word, QuotedName, String, Number, LeftParen, RightParen, Comma, Comparison, End, Invalid }

/// <summary>
/// Text is the word, the unquoted name, the unescaped string, the number or the operator as written;
/// for <see cref="TokenKind.Invalid"/> it is the error message.
/// </summary>
internal readonly record struct Token(TokenKind Kind, string Text, int Position)
{
    public bool IsWord(string keyword) => Kind == TokenKind.Word && Text.Equals(keyword, StringComparison.OrdinalIgnoreCase);
}

internal static class Cql2Lexer
{
    /// <summary>
    /// The tokens of <paramref name="text"/>, ending with End, or with an Invalid token at the first
    /// character that cannot start one. The parser reports Invalid only when it reaches it, so a
    /// syntax error earlier in the text is reported first.
    /// </summary>
    public static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (true)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            var token = i == text.Length ? new Token(TokenKind.End, "", i) : Next(text, ref i);
            tokens.Add(token);
            if (token.Kind is TokenKind.End or TokenKind.Invalid) return tokens;
        }
    }

    private static Token Next(string text, ref int i)
    {
        var start = i;
        var c = text[i];
        switch (c)
        {
            case '(': i++; return new Token(TokenKind.LeftParen, "(", start);
            case ')': i++; return new Token(TokenKind.RightParen, ")", start);
            case ',': i++; return new Token(TokenKind.Comma, ",", start);
            case '=': i++; return new Token(TokenKind.Comparison, "=", start);
            case '<' or '>':
                i++;
                if (i < text.Length && (text[i] == '=' || (c == '<' && text[i] == '>'))) i++;
                return new Token(TokenKind.Comparison, text[start..i], start);
            case '\'': return Quoted(text, ref i, '\'', TokenKind.String, "string");
            case '"': return Quoted(text, ref i, '"', TokenKind.QuotedName, "property name");
        }
        if (char.IsLetter(c) || c == '_')
        {
            while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] is '_' or '.' or ':')) i++;
            return new Token(TokenKind.Word, text[start..i], start);
        }
        if (StartsNumber(text, i)) return Number(text, ref i);
        // The whole character: an emoji is two UTF-16 units, and its first alone was shown as U+FFFD.
        var whole = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? text.Substring(i, 2)
            : char.IsSurrogate(c) ? $"U+{(int)c:X4}, half a surrogate pair" : c.ToString();
        return new Token(TokenKind.Invalid, $"unexpected character '{whole}'", start);
    }

    /// <summary>
    /// A quoted run; the quote character doubled stands for itself. In a string the backslash escapes
    /// (/req/cql2-text/escaping): \' is a quote, \a \b \t \n \v \f \r the control characters; any other
    /// pair (\\, \%, \_ …) is kept as written, for the parser to read as a LIKE pattern's escape or as
    /// text (<see cref="Cql2TextParser"/>). A pattern ending in \\ still ends at its quote.
    /// </summary>
    private static Token Quoted(string text, ref int i, char quote, TokenKind kind, string what)
    {
        var start = i++;
        var value = new StringBuilder();
        while (i < text.Length)
        {
            if (kind == TokenKind.String && text[i] == '\\' && i + 1 < text.Length)
            {
                var escaped = text[i + 1];
                var control = escaped switch
                {
                    'a' => '\a', 'b' => '\b', 't' => '\t', 'n' => '\n', 'v' => '\v', 'f' => '\f', 'r' => '\r', _ => (char?)null,
                };
                if (control is { } c) value.Append(c);
                else if (escaped == quote) value.Append(quote);
                else value.Append('\\').Append(escaped);
                i += 2;
            }
            else if (text[i] != quote) value.Append(text[i++]);
            else if (i + 1 < text.Length && text[i + 1] == quote) { value.Append(quote); i += 2; }
            else { i++; return new Token(kind, value.ToString(), start); }
        }
        return new Token(TokenKind.Invalid, $"unterminated {what}: the closing {quote} is missing", start);
    }

    private static bool StartsNumber(string text, int i)
    {
        if (text[i] is '+' or '-') i++;
        if (i < text.Length && text[i] == '.') i++;
        return i < text.Length && char.IsAsciiDigit(text[i]);
    }

    private static Token Number(string text, ref int i)
    {
        var start = i;
        if (text[i] is '+' or '-') i++;
        SkipDigits(text, ref i);
        if (i < text.Length && text[i] == '.') { i++; SkipDigits(text, ref i); }
        if (i < text.Length && text[i] is 'e' or 'E')
        {
            var mark = i++;
            if (i < text.Length && text[i] is '+' or '-') i++;
            // Not an exponent after all ("2e" then a word): leave the e to the next token.
            if (i < text.Length && char.IsAsciiDigit(text[i])) SkipDigits(text, ref i);
            else i = mark;
        }
        return new Token(TokenKind.Number, text[start..i], start);
    }

    private static void SkipDigits(string text, ref int i)
    {
        while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
    }
}
