using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;

/// <summary>
/// One keep-alive HTTP/1.1 connection that posts prepared requests and reads each whole response (status line, headers,
/// then a Content-Length or chunked body), like wrk's or bombardier's clients: no HttpClient pipeline, no per-request
/// objects. On a 2-core machine the load generator runs on the server's own cores, so the less CPU it spends per
/// request, the less the measurement takes from the server it measures.
/// </summary>
internal sealed class RawHttpConnection : IDisposable
{
    private readonly Socket _socket;
    private byte[] _buffer = new byte[16 * 1024];
    private int _start, _end;   // unread bytes of the buffer: [_start, _end)

    private RawHttpConnection(Socket socket) => _socket = socket;

    public static async Task<RawHttpConnection> OpenAsync(IPEndPoint server)
    {
        var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(server);
        return new RawHttpConnection(socket);
    }

    /// <summary>A POST of <paramref name="body"/> to <paramref name="target"/>, as the bytes to send.</summary>
    public static byte[] Request(string target, EndPoint host, string contentType, byte[] body)
    {
        byte[] head = Encoding.ASCII.GetBytes(
            $"POST {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\n\r\n");
        return [.. head, .. body];
    }

    /// <summary>Sends one prepared request and reads its response; returns the status code.</summary>
    public async Task<int> SendAsync(byte[] request)
    {
        await _socket.SendAsync(request, SocketFlags.None);
        int headerEnd;
        while ((headerEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
        {
            await FillAsync();
        }
        (int status, long contentLength, bool chunked) = ParseHead(_buffer.AsSpan(_start, headerEnd));
        _start += headerEnd + 4;
        if (chunked)
        {
            while (true)
            {
                int lineEnd;
                while ((lineEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8)) < 0)
                {
                    await FillAsync();
                }
                if (!Utf8Parser.TryParse(_buffer.AsSpan(_start, lineEnd), out int size, out _, 'X'))
                {
                    throw new IOException("Malformed chunk size.");
                }
                _start += lineEnd + 2;
                await SkipAsync(size + 2);   // the chunk and its CRLF (after the last, empty chunk: the final CRLF)
                if (size == 0)
                {
                    return status;
                }
            }
        }
        await SkipAsync(Math.Max(0, contentLength));
        return status;
    }

    /// <summary>Status code, Content-Length (−1 when absent) and chunked encoding of a response head (status line and headers).</summary>
    private static (int Status, long ContentLength, bool Chunked) ParseHead(ReadOnlySpan<byte> head)
    {
        // "HTTP/1.1 200 OK"
        if (head.Length < 12 || !Utf8Parser.TryParse(head.Slice(9, 3), out int status, out _))
        {
            throw new IOException("Malformed status line: " + Encoding.ASCII.GetString(head[..Math.Min(head.Length, 40)]));
        }
        Span<byte> lower = head.Length <= 4096 ? stackalloc byte[head.Length] : new byte[head.Length];
        Ascii.ToLower(head, lower, out _);   // header names are case-insensitive: lower-case the head once
        long contentLength = HeaderValue(lower, "\r\ncontent-length:"u8) is { IsEmpty: false } length && Utf8Parser.TryParse(length, out long parsed, out _) ? parsed : -1;
        bool chunked = HeaderValue(lower, "\r\ntransfer-encoding:"u8).IndexOf("chunked"u8) >= 0;
        return (status, contentLength, chunked);
    }

    private static ReadOnlySpan<byte> HeaderValue(ReadOnlySpan<byte> lowerHead, ReadOnlySpan<byte> name)
    {
        int at = lowerHead.IndexOf(name);
        if (at < 0)
        {
            return default;
        }
        ReadOnlySpan<byte> rest = lowerHead[(at + name.Length)..];
        int end = rest.IndexOf("\r\n"u8);
        return (end < 0 ? rest : rest[..end]).Trim((byte)' ');
    }

    private async Task SkipAsync(long count)
    {
        while (count > 0)
        {
            if (_end == _start)
            {
                await FillAsync();
            }
            int take = (int)Math.Min(count, _end - _start);
            _start += take;
            count -= take;
        }
    }

    private async Task FillAsync()
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            (_end, _start) = (_end - _start, 0);
        }
        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
        int read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None);
        if (read == 0)
        {
            throw new IOException("The server closed the connection.");
        }
        _end += read;
    }

    public void Dispose() => _socket.Dispose();
}
