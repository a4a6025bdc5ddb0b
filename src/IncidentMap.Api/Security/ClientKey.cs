using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace IncidentMap.Api.Security;

/// <summary>
/// Who a limit counts against, as <see cref="SecuritySetup.Partition"/> names it (the API key's name,
/// else the client address; for IPv6 its /64), without building that name: a value to look up per
/// database read, which allocates nothing. <see cref="ToString"/> is the partition's name.
/// </summary>
public readonly record struct ClientKey
{
    private enum Kind : byte { NoAddress, Key, V4, V6Network }

    private readonly string? _key;
    private readonly ulong _address;
    private readonly Kind _kind;

    private ClientKey(Kind kind, string? key, ulong address) => (_kind, _key, _address) = (kind, key, address);

    public static ClientKey Of(HttpContext context) =>
        context.User.KeyName() is { } name ? new ClientKey(Kind.Key, name, 0) : Of(context.Connection.RemoteIpAddress);

    /// <summary>An address's client: IPv4 (also mapped into IPv6) as it is, IPv6 by its first 64 bits.</summary>
    public static ClientKey Of(IPAddress? address)
    {
        if (address is null) return default;
        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            address.TryWriteBytes(bytes, out _);
            return new ClientKey(Kind.V4, null, BinaryPrimitives.ReadUInt32BigEndian(bytes));
        }
        address.TryWriteBytes(bytes, out _);
        var high = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        var low = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        // ::ffff:a.b.c.d is the IPv4 address a.b.c.d (IPAddress.IsIPv4MappedToIPv6).
        return high == 0 && low >> 32 == 0xFFFF
            ? new ClientKey(Kind.V4, null, (uint)low)
            : new ClientKey(Kind.V6Network, null, high);
    }

    /// <summary>The partition's name: <c>key:name</c>, <c>ip:a.b.c.d</c>, <c>ip:2001:db8::/64</c> or <c>ip:</c> without an address.</summary>
    public override string ToString() => _kind == Kind.Key ? "key:" + _key : "ip:" + Network;

    /// <summary>The address or IPv6 network of a client without a key: <c>a.b.c.d</c>, <c>2001:db8::/64</c>; null for none.</summary>
    internal string? Network
    {
        get
        {
            switch (_kind)
            {
                case Kind.V4:
                    var v4 = new byte[4];
                    BinaryPrimitives.WriteUInt32BigEndian(v4, (uint)_address);
                    return new IPAddress(v4).ToString();
                case Kind.V6Network:
                    var v6 = new byte[16];
                    BinaryPrimitives.WriteUInt64BigEndian(v6, _address);
                    return new IPAddress(v6) + "/64";
                default:
                    return null;
            }
        }
    }
}
