namespace IncidentMap.Tests.Consistency;

/// <summary>
/// A minimal Mapbox Vector Tile (protobuf) reader: each feature's layer, id, properties and first
/// position in tile units. Spawning ogrinfo for every tile (as TileTests does) would take minutes
/// over the hundreds of tiles these tests read.
/// </summary>
public static class Mvt
{
    public sealed record Feature(string Layer, ulong? Id, Dictionary<string, object> Properties, int Type, (long X, long Y)? First);

    public static List<Feature> Decode(byte[] tile)
    {
        var features = new List<Feature>();
        var reader = new Reader(tile, 0, tile.Length);
        while (reader.More)
        {
            var (field, wire) = reader.Key();
            if (field == 3 && wire == 2) DecodeLayer(reader.Bytes(), features);
            else reader.Skip(wire);
        }
        return features;
    }

    private static void DecodeLayer(Reader layer, List<Feature> into)
    {
        var name = "";
        var keys = new List<string>();
        var values = new List<object>();
        var raw = new List<Reader>();
        while (layer.More)
        {
            var (field, wire) = layer.Key();
            switch (field)
            {
                case 1 when wire == 2: name = layer.String(); break;
                case 2 when wire == 2: raw.Add(layer.Bytes()); break;
                case 3 when wire == 2: keys.Add(layer.String()); break;
                case 4 when wire == 2: values.Add(DecodeValue(layer.Bytes())); break;
                default: layer.Skip(wire); break;
            }
        }
        foreach (var f in raw)
        {
            ulong? id = null;
            var tags = new List<ulong>();
            var geometry = new List<ulong>();
            var type = 0;
            while (f.More)
            {
                var (field, wire) = f.Key();
                switch (field)
                {
                    case 1 when wire == 0: id = f.Varint(); break;
                    case 2 when wire == 2: tags.AddRange(f.Packed()); break;
                    case 3 when wire == 0: type = (int)f.Varint(); break;
                    case 4 when wire == 2: geometry.AddRange(f.Packed()); break;
                    default: f.Skip(wire); break;
                }
            }
            var properties = new Dictionary<string, object>();
            for (var n = 0; n + 1 < tags.Count; n += 2) properties[keys[(int)tags[n]]] = values[(int)tags[n + 1]];
            (long, long)? first = geometry.Count >= 3 && (geometry[0] & 7) == 1 ? (Zigzag(geometry[1]), Zigzag(geometry[2])) : null;
            into.Add(new Feature(name, id, properties, type, first));
        }
    }

    private static long Zigzag(ulong n) => (long)(n >> 1) ^ -(long)(n & 1);

    private static object DecodeValue(Reader value)
    {
        object result = "";
        while (value.More)
        {
            var (field, wire) = value.Key();
            result = field switch
            {
                1 => value.String(),
                2 => (double)BitConverter.ToSingle(value.Fixed(4)),
                3 => BitConverter.ToDouble(value.Fixed(8)),
                4 => (double)(long)value.Varint(),
                5 => (double)value.Varint(),
                6 => (double)Zigzag(value.Varint()),
                7 => value.Varint() != 0,
                _ => Skipped(value, wire),
            };
        }
        return result;
    }

    private static object Skipped(Reader r, int wire) { r.Skip(wire); return ""; }

    private sealed class Reader(byte[] data, int position, int end)
    {
        private int _position = position;
        public bool More => _position < end;

        public ulong Varint()
        {
            ulong result = 0;
            for (var shift = 0; ; shift += 7)
            {
                var b = data[_position++];
                result |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80) return result;
            }
        }

        public (int Field, int Wire) Key()
        {
            var key = Varint();
            return ((int)(key >> 3), (int)(key & 7));
        }

        public Reader Bytes()
        {
            var length = (int)Varint();
            var r = new Reader(data, _position, _position + length);
            _position += length;
            return r;
        }

        public string String()
        {
            var length = (int)Varint();
            var s = System.Text.Encoding.UTF8.GetString(data, _position, length);
            _position += length;
            return s;
        }

        public byte[] Fixed(int n)
        {
            var bytes = data[_position..(_position + n)];
            _position += n;
            return bytes;
        }

        public List<ulong> Packed()
        {
            var inner = Bytes();
            var list = new List<ulong>();
            while (inner.More) list.Add(inner.Varint());
            return list;
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: _position += 8; break;
                case 2: _position += (int)Varint(); break;
                case 5: _position += 4; break;
                default: throw new InvalidDataException($"wire type {wire}");
            }
        }
    }
}
