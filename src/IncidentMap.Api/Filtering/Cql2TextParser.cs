using System.Text;

namespace IncidentMap.Api.Filtering;

/// <summary>
/// Recursive-descent parser for CQL2 text. Grammar (keywords case-insensitive, property names not):
/// <code>
/// or        = and { OR and }
/// and       = not { AND not }
/// not       = NOT not | primary
/// primary   = "(" or ")" | predicate
/// predicate = operand [ comparison operand | [NOT] LIKE operand | [NOT] BETWEEN operand AND operand
///                     | [NOT] IN "(" operand { "," operand } ")" | IS [NOT] NULL ]
/// operand   = property | "quoted property" | 'string' | number | TRUE | FALSE | TIMESTAMP('…') | DATE('…')
///           | INTERVAL(end, end) | BBOX(n,n,n,n) | WKT geometry | function "(" [ operand { "," operand } ] ")"
///           | "(" [ operand { "," operand } ] ")"
/// end      = '…' | '..' | property      (a quoted date or timestamp, an open end, or a timestamp property)
/// </code>
/// A predicate without a comparison is a boolean function such as S_INTERSECTS(…); whether it is one
/// is the compiler's decision, as is every question of names and types.
/// </summary>
internal sealed class Cql2TextParser
{
    private static readonly HashSet<string> Reserved = new(["AND", "OR", "NOT", "LIKE", "BETWEEN", "IN", "IS", "NULL"], StringComparer.OrdinalIgnoreCase);

    private static readonly HashSet<string> GeometryWords = new(
        ["POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION"],
        StringComparer.OrdinalIgnoreCase);

    private static readonly HashSet<string> DimensionWords = new(["Z", "M", "ZM"], StringComparer.OrdinalIgnoreCase);

    private readonly string _text;
    private readonly List<Token> _tokens;
    private readonly Limits _limits = new();
    private int _next;

    /// <summary>Whether strings are read as a LIKE pattern, whose backslash pairs are LIKE's escapes.</summary>
    private bool _inPattern;

    private Cql2TextParser(string text)
    {
        _text = text;
        _tokens = Cql2Lexer.Tokenize(text);
    }

    public static Node Parse(string text)
    {
        var parser = new Cql2TextParser(text);
        var root = parser.Or();
        var rest = parser.Peek();
        if (rest.Kind != TokenKind.End) throw Error(rest, $"unexpected {Describe(rest)}");
        return root;
    }

    private Node Or() => Chain("OR", And);

    private Node And() => Chain("AND", Not);

    private Node Chain(string keyword, Func<Node> operand)
    {
        var first = operand();
        if (!Peek().IsWord(keyword)) return first;
        var args = new List<Node> { first };
        while (Peek().IsWord(keyword))
        {
            Advance();
            args.Add(operand());
        }
        return Term(new CallNode(keyword.ToLowerInvariant(), args, first.At));
    }

    private Node Not()
    {
        var token = Peek();
        if (!token.IsWord("NOT")) return Primary();
        Advance();
        return _limits.Nested(At(token), () => Negate(Not(), token));
    }

    private Node Primary()
    {
        var open = Peek();
        if (open.Kind != TokenKind.LeftParen) return Predicate();
        Advance();
        var inner = _limits.Nested(At(open), Or);
        Expect(TokenKind.RightParen, $"')' to close the '(' at {open.Position}");
        return inner;
    }

    private Node Predicate()
    {
        var left = Operand();
        var token = Peek();
        if (token.Kind == TokenKind.Comparison)
        {
            Advance();
            return Term(new CallNode(token.Text, [left, Operand()], At(token)));
        }
        if (token.IsWord("IS"))
        {
            Advance();
            var negated = Peek().IsWord("NOT");
            if (negated) Advance();
            ExpectWord("NULL");
            var isNull = Term(new CallNode("isnull", [left], At(token)));
            return negated ? Negate(isNull, token) : isNull;
        }

        var not = token.IsWord("NOT");
        if (not) Advance();
        var op = Peek();
        Node predicate;
        if (op.IsWord("LIKE"))
        {
            Advance();
            _inPattern = true;
            var pattern = Operand();
            _inPattern = false;
            predicate = new CallNode("like", [left, pattern], At(op));
        }
        else if (op.IsWord("BETWEEN"))
        {
            Advance();
            var low = Operand();
            ExpectWord("AND");
            predicate = new CallNode("between", [left, low, Operand()], At(op));
        }
        else if (op.IsWord("IN"))
        {
            Advance();
            if (Peek().Kind != TokenKind.LeftParen) throw Error(Peek(), $"expected '(' after IN, found {Describe(Peek())}");
            predicate = new CallNode("in", [left, Operand()], At(op));
        }
        else if (not) throw Error(op, $"expected LIKE, BETWEEN or IN after NOT, found {Describe(op)}");
        else return left;

        predicate = Term(predicate);
        return not ? Negate(predicate, token) : predicate;
    }

    private Node Operand()
    {
        var token = Peek();
        switch (token.Kind)
        {
            case TokenKind.String:
                Advance();
                return Term(new LiteralNode(_inPattern ? token.Text : Unescaped(token.Text), At(token)));
            case TokenKind.Number:
                Advance();
                return Term(new LiteralNode(Number(token), At(token)));
            case TokenKind.QuotedName:
                Advance();
                return Term(new PropertyNode(token.Text, At(token)));
            case TokenKind.LeftParen:
                return Term(new ArrayNode(Arguments(), At(token)));
            case TokenKind.Word:
                return Word(token);
            default:
                throw Error(token, $"expected a property or a value, found {Describe(token)}");
        }
    }

    private Node Word(Token word)
    {
        if (word.IsWord("TRUE") || word.IsWord("FALSE"))
        {
            Advance();
            return Term(new LiteralNode(word.IsWord("TRUE"), At(word)));
        }
        if (Reserved.Contains(word.Text)) throw Error(word, $"expected a property or a value, found '{word.Text}'");
        if (GeometryWords.Contains(word.Text)) return Term(new LiteralNode(Wkt(word), At(word)));

        Advance();
        if (Peek().Kind != TokenKind.LeftParen) return Term(new PropertyNode(word.Text, At(word)));
        if (word.IsWord("INTERVAL")) return Term(Interval(word));
        object? literal = word.Text.ToUpperInvariant() switch
        {
            "TIMESTAMP" => Instant(Literals.Timestamp),
            "DATE" => Instant(Literals.Date),
            "BBOX" or "ENVELOPE" => Literals.Bbox(Bbox(), At(word)),
            _ => null,
        };
        return Term<Node>(literal is null
            ? new CallNode(word.Text.ToLowerInvariant(), Arguments(), At(word))
            : new LiteralNode(literal, At(word)));
    }

    /// <summary>"(" [ operand { "," operand } ] ")": function arguments and lists alike.</summary>
    private List<Node> Arguments()
    {
        var open = Advance();
        return _limits.Nested(At(open), () =>
        {
            var items = new List<Node>();
            if (Peek().Kind != TokenKind.RightParen)
            {
                items.Add(Operand());
                while (Peek().Kind == TokenKind.Comma)
                {
                    Advance();
                    items.Add(Operand());
                }
            }
            Expect(TokenKind.RightParen, $"',' or ')' to close the '(' at {open.Position}");
            return items;
        });
    }

    /// <summary>TIMESTAMP('…') or DATE('…') from the opening parenthesis on.</summary>
    private TimeInstant Instant(Func<string, Location, TimeInstant> read)
    {
        Advance();
        var value = Expect(TokenKind.String, "a quoted string");
        Expect(TokenKind.RightParen, "')'");
        return read(value.Text, At(value));
    }

    /// <summary>
    /// INTERVAL(start, end) from the opening parenthesis on. Two quoted ends ('…' or '..') are a literal; an end that is a
    /// property (or anything else, which the compiler judges) makes it an "interval" call of its two ends, where a quoted
    /// end is already read as a time (a <see cref="TimeInstant"/>, or the string ".." when open).
    /// </summary>
    private Node Interval(Token keyword)
    {
        var open = Advance();
        return _limits.Nested<Node>(At(open), () =>
        {
            var (start, startToken) = Bound();
            Expect(TokenKind.Comma, "','");
            var (end, endToken) = Bound();
            Expect(TokenKind.RightParen, "')'");
            if (startToken is { } s && endToken is { } e)
                return new LiteralNode(Literals.Interval(Literals.IntervalBound(s.Text, At(s)), Literals.IntervalBound(e.Text, At(e)), At(keyword)), At(keyword));
            return new CallNode("interval", [start ?? Quoted(startToken!.Value), end ?? Quoted(endToken!.Value)], At(keyword));
        });

        // A quoted end is kept as its token until both are known; anything else is an operand.
        (Node? Node, Token? Quoted) Bound()
        {
            var token = Peek();
            if (token.Kind != TokenKind.String) return (Operand(), null);
            Advance();
            return (null, token);
        }

        Node Quoted(Token token) => Term(new LiteralNode(Literals.IntervalBound(token.Text, At(token)) ?? (object)"..", At(token)));
    }

    private List<double> Bbox()
    {
        Advance();
        double Coordinate() => Literals.Approximately(Number(Expect(TokenKind.Number, "a number")));
        var numbers = new List<double> { Coordinate() };
        while (Peek().Kind == TokenKind.Comma)
        {
            Advance();
            numbers.Add(Coordinate());
        }
        Expect(TokenKind.RightParen, "',' or ')'");
        return numbers;
    }

    /// <summary>
    /// A WKT geometry: its extent is found here (a keyword, Z/M, then balanced parentheses of numbers),
    /// the text itself is read by NetTopologySuite.
    /// </summary>
    private NetTopologySuite.Geometries.Geometry Wkt(Token keyword)
    {
        var last = Advance();
        while (Peek().Kind == TokenKind.Word && DimensionWords.Contains(Peek().Text)) last = Advance();
        if (Peek().IsWord("EMPTY")) last = Advance();
        else
        {
            if (Peek().Kind != TokenKind.LeftParen) throw Error(Peek(), $"expected '(' after {keyword.Text}, found {Describe(Peek())}");
            var depth = 0;
            do
            {
                var token = Peek();
                depth += token.Kind switch
                {
                    TokenKind.LeftParen => 1,
                    TokenKind.RightParen => -1,
                    TokenKind.Number or TokenKind.Comma or TokenKind.Word => 0,
                    _ => throw Error(token, $"expected coordinates, found {Describe(token)}"),
                };
                if (depth > Limits.MaxDepth) throw Error(token, $"the geometry is nested more than {Limits.MaxDepth} levels deep");
                last = Advance();
            } while (depth > 0);
        }
        var end = last.Position + last.Text.Length;
        return Literals.Wkt(_text[keyword.Position..end], At(keyword));
    }

    /// <summary>
    /// A string outside a LIKE pattern, where \\ is one backslash, as "\\" is in CQL2 JSON; the lexer has
    /// read the other escapes and kept the pairs it does not know (\% stays \%). In a pattern every pair
    /// is left to LIKE, so 'C:\\%' is a backslash and then anything, as the JSON pattern "C:\\\\%" is.
    /// </summary>
    private static string Unescaped(string text)
    {
        if (!text.Contains('\\')) return text;
        var value = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            // Every backslash the lexer left starts a pair: \\ is one backslash, any other pair stays.
            if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] == '\\') i++;
            else if (text[i] == '\\' && i + 1 < text.Length) value.Append(text[i++]);
            value.Append(text[i]);
        }
        return value.ToString();
    }

    private static object Number(Token token) => Literals.Number(token.Text, At(token));

    private Node Negate(Node node, Token not) => Term(new CallNode("not", [node], At(not)));

    private T Term<T>(T node) where T : Node => _limits.Term(node);

    private Token Peek()
    {
        var token = _tokens[_next];
        return token.Kind == TokenKind.Invalid ? throw Error(token, token.Text) : token;
    }

    private Token Advance()
    {
        var token = Peek();
        if (token.Kind != TokenKind.End) _next++;
        return token;
    }

    private Token Expect(TokenKind kind, string what)
    {
        var token = Peek();
        if (token.Kind != kind) throw Error(token, $"expected {what}, found {Describe(token)}");
        return Advance();
    }

    private void ExpectWord(string keyword)
    {
        if (!Peek().IsWord(keyword)) throw Error(Peek(), $"expected {keyword}, found {Describe(Peek())}");
        Advance();
    }

    private static string Describe(Token token) => token.Kind switch
    {
        TokenKind.End => "the end of the filter",
        TokenKind.String => $"the string '{token.Text}'",
        _ => $"'{token.Text}'",
    };

    private static Location At(Token token) => Location.Text(token.Position);

    private static FilterException Error(Token token, string message) => new(At(token), message);
}
