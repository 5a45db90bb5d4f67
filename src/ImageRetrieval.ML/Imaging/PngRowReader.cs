using System.Buffers.Binary;
using System.IO.Compression;

namespace ImageRetrieval.ML.Imaging;

/// <summary>
/// Reads a non-interlaced PNG one row at a time as premultiplied B, G, R, A bytes, holding only two rows: how
/// <see cref="ImageDecoder"/> decodes a PNG larger than its memory budget at reduced scale (SkiaSharp's PNG codec reads
/// whole images only). Every bit depth and colour type of the PNG specification, with <c>tRNS</c> transparency;
/// 16-bit samples keep their high byte. Colour profiles and gamma are ignored, as in the full-size path.
/// </summary>
internal sealed class PngRowReader : IDisposable
{
    private readonly ZLibStream _inflater;
    private readonly int _colorType;
    private readonly int _bitDepth;
    private readonly int _bytesPerPixel; // for the filters: at least 1
    private readonly byte[] _palette = new byte[256 * 4];
    private readonly int[]? _transparent; // grey or R, G, B sample value shown transparent (tRNS for colour types 0 and 2)
    private readonly string _source;
    private byte[] _previous;
    private byte[] _current;

    private PngRowReader(byte[] compressed, int width, int height, int bitDepth, int colorType, byte[] palette, int paletteAlpha, int[]? transparent, string source)
    {
        Width = width;
        Height = height;
        _bitDepth = bitDepth;
        _colorType = colorType;
        _transparent = transparent;
        _source = source;
        palette.CopyTo(_palette, 0);
        HasAlpha = colorType is 4 or 6 || transparent is not null || (colorType == 3 && paletteAlpha > 0);
        int channels = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        long bits = (long)width * channels * bitDepth;
        _bytesPerPixel = Math.Max(1, channels * bitDepth / 8);
        int rowBytes = checked((int)((bits + 7) / 8));
        _previous = new byte[rowBytes];
        _current = new byte[rowBytes];
        _inflater = new ZLibStream(new MemoryStream(compressed, writable: false), CompressionMode.Decompress);
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>Whether any pixel can be less than opaque (an alpha channel or a tRNS chunk).</summary>
    public bool HasAlpha { get; }

    /// <summary>Parses the chunks up to the image data. Null for an interlaced PNG (its rows arrive in seven passes).</summary>
    /// <exception cref="ImageDecodeException">The PNG is malformed.</exception>
    public static PngRowReader? Open(ReadOnlySpan<byte> png, string source)
    {
        if (png.Length < 33 || !png[..8].SequenceEqual((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]))
        {
            throw new ImageDecodeException(source, "not a PNG file");
        }
        int width = 0, height = 0, bitDepth = 0, colorType = 0, paletteAlpha = 0;
        bool interlaced = false, header = false;
        var palette = new byte[256 * 4];
        for (int i = 0; i < 256; i++)
        {
            palette[(i * 4) + 3] = 255;
        }
        int[]? transparent = null;
        using var data = new MemoryStream();
        int position = 8;
        while (position + 8 <= png.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png[position..]);
            ReadOnlySpan<byte> type = png.Slice(position + 4, 4);
            if (length < 0 || position + 12L + length > png.Length)
            {
                throw new ImageDecodeException(source, "the data is truncated");
            }
            ReadOnlySpan<byte> chunk = png.Slice(position + 8, length);
            position += 12 + length;
            if (type.SequenceEqual("IHDR"u8) && length >= 13)
            {
                width = BinaryPrimitives.ReadInt32BigEndian(chunk);
                height = BinaryPrimitives.ReadInt32BigEndian(chunk[4..]);
                (bitDepth, colorType, interlaced, header) = (chunk[8], chunk[9], chunk[12] != 0, true);
                bool valid = colorType switch
                {
                    0 => bitDepth is 1 or 2 or 4 or 8 or 16,
                    3 => bitDepth is 1 or 2 or 4 or 8,
                    2 or 4 or 6 => bitDepth is 8 or 16,
                    _ => false,
                };
                if (!valid || width < 1 || height < 1)
                {
                    throw new ImageDecodeException(source, $"its PNG header is invalid ({width}x{height}, colour type {colorType}, bit depth {bitDepth})");
                }
            }
            else if (type.SequenceEqual("PLTE"u8))
            {
                for (int i = 0; i < Math.Min(256, length / 3); i++)
                {
                    (palette[i * 4], palette[(i * 4) + 1], palette[(i * 4) + 2]) = (chunk[i * 3], chunk[(i * 3) + 1], chunk[(i * 3) + 2]);
                }
            }
            else if (type.SequenceEqual("tRNS"u8))
            {
                if (colorType == 3)
                {
                    for (int i = 0; i < Math.Min(256, length); i++)
                    {
                        palette[(i * 4) + 3] = chunk[i];
                    }
                    paletteAlpha = length;
                }
                else if (colorType == 0 && length >= 2)
                {
                    transparent = [BinaryPrimitives.ReadUInt16BigEndian(chunk)];
                }
                else if (colorType == 2 && length >= 6)
                {
                    transparent = [BinaryPrimitives.ReadUInt16BigEndian(chunk), BinaryPrimitives.ReadUInt16BigEndian(chunk[2..]), BinaryPrimitives.ReadUInt16BigEndian(chunk[4..])];
                }
            }
            else if (type.SequenceEqual("IDAT"u8))
            {
                data.Write(chunk);
            }
            else if (type.SequenceEqual("IEND"u8))
            {
                break;
            }
        }
        if (!header)
        {
            throw new ImageDecodeException(source, "its PNG header (IHDR) is missing");
        }
        return interlaced ? null : new PngRowReader(data.ToArray(), width, height, bitDepth, colorType, palette, paletteAlpha, transparent, source);
    }

    /// <summary>Decodes the next row into <paramref name="bgra"/> (4 × <see cref="Width"/> bytes, premultiplied).</summary>
    /// <exception cref="ImageDecodeException">The compressed data ends early or is corrupt.</exception>
    public void ReadRow(Span<byte> bgra)
    {
        (_previous, _current) = (_current, _previous);
        int filter;
        try
        {
            filter = _inflater.ReadByte();
            if (filter < 0 || ReadFully(_current) < _current.Length)
            {
                throw new ImageDecodeException(_source, "the data is truncated");
            }
        }
        catch (InvalidDataException e)
        {
            throw new ImageDecodeException(_source, $"the compressed pixel data is corrupt ({e.Message})", e);
        }
        Unfilter(filter, _current, _previous, _bytesPerPixel);
        Convert(_current, bgra);
    }

    public void Dispose() => _inflater.Dispose();

    private int ReadFully(Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = _inflater.Read(buffer[total..]);
            if (n == 0)
            {
                break;
            }
            total += n;
        }
        return total;
    }

    private void Unfilter(int filter, Span<byte> row, ReadOnlySpan<byte> above, int bpp)
    {
        switch (filter)
        {
            case 0:
                break;
            case 1: // Sub
                for (int i = bpp; i < row.Length; i++)
                {
                    row[i] += row[i - bpp];
                }
                break;
            case 2: // Up
                for (int i = 0; i < row.Length; i++)
                {
                    row[i] += above[i];
                }
                break;
            case 3: // Average
                for (int i = 0; i < row.Length; i++)
                {
                    int left = i >= bpp ? row[i - bpp] : 0;
                    row[i] += (byte)((left + above[i]) >> 1);
                }
                break;
            case 4: // Paeth
                for (int i = 0; i < row.Length; i++)
                {
                    int a = i >= bpp ? row[i - bpp] : 0, b = above[i], c = i >= bpp ? above[i - bpp] : 0;
                    int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                    row[i] += (byte)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
                }
                break;
            default:
                throw new ImageDecodeException(_source, $"a row has the unknown PNG filter type {filter}");
        }
    }

    // One sample at its own bit depth (for tRNS comparison).
    private int Sample(ReadOnlySpan<byte> row, int index) => _bitDepth switch
    {
        16 => (row[index * 2] << 8) | row[(index * 2) + 1],
        8 => row[index],
        _ => (row[index * _bitDepth / 8] >> (8 - _bitDepth - (index * _bitDepth % 8))) & ((1 << _bitDepth) - 1),
    };

    // A sample scaled to 0–255.
    private int Byte(ReadOnlySpan<byte> row, int index) => _bitDepth switch
    {
        16 => row[index * 2],
        8 => row[index],
        _ => Sample(row, index) * 255 / ((1 << _bitDepth) - 1),
    };

    private void Convert(ReadOnlySpan<byte> row, Span<byte> bgra)
    {
        for (int x = 0; x < Width; x++)
        {
            int r, g, b, a = 255;
            switch (_colorType)
            {
                case 0:
                    r = g = b = Byte(row, x);
                    if (_transparent is not null && Sample(row, x) == _transparent[0])
                    {
                        a = 0;
                    }
                    break;
                case 2:
                    (r, g, b) = (Byte(row, 3 * x), Byte(row, (3 * x) + 1), Byte(row, (3 * x) + 2));
                    if (_transparent is not null && Sample(row, 3 * x) == _transparent[0] && Sample(row, (3 * x) + 1) == _transparent[1] && Sample(row, (3 * x) + 2) == _transparent[2])
                    {
                        a = 0;
                    }
                    break;
                case 3:
                    int entry = Sample(row, x) * 4;
                    (r, g, b, a) = (_palette[entry], _palette[entry + 1], _palette[entry + 2], _palette[entry + 3]);
                    break;
                case 4:
                    r = g = b = Byte(row, 2 * x);
                    a = Byte(row, (2 * x) + 1);
                    break;
                default:
                    (r, g, b, a) = (Byte(row, 4 * x), Byte(row, (4 * x) + 1), Byte(row, (4 * x) + 2), Byte(row, (4 * x) + 3));
                    break;
            }
            if (a < 255)
            {
                r = ((r * a) + 127) / 255;
                g = ((g * a) + 127) / 255;
                b = ((b * a) + 127) / 255;
            }
            int o = x * 4;
            (bgra[o], bgra[o + 1], bgra[o + 2], bgra[o + 3]) = ((byte)b, (byte)g, (byte)r, (byte)a);
        }
    }
}
