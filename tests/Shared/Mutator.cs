using System.Buffers.Binary;

namespace ImageRetrieval.Tests;

/// <summary>
/// A seeded, reproducible byte mutator for fuzzing file readers: bit flips, byte sets (to 0, 0xFF or
/// boundary values), truncation, chunk duplication, insertion and removal, and tweaks of 4- and 8-byte
/// little/big-endian length fields. The same (seed, case) always gives the same bytes.
/// </summary>
internal static class Mutator
{
    private static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE];

    /// <summary>The <paramref name="caseNumber"/>-th mutation of <paramref name="seed"/> under <paramref name="runSeed"/>.</summary>
    public static byte[] Mutate(byte[] seed, int runSeed, int caseNumber, out string description)
    {
        var random = new Random(HashCode.Combine(runSeed, caseNumber) ^ (caseNumber * 7919));
        byte[] data = seed;
        int steps = 1 + random.Next(3);
        var what = new List<string>(steps);
        for (int s = 0; s < steps; s++)
        {
            data = MutateOnce(data, random, out string step);
            what.Add(step);
        }
        description = string.Join("; ", what);
        return data;
    }

    private static byte[] MutateOnce(byte[] input, Random random, out string description)
    {
        if (input.Length == 0)
        {
            description = "insert 1..16 random bytes into an empty input";
            var fresh = new byte[1 + random.Next(16)];
            random.NextBytes(fresh);
            return fresh;
        }
        byte[] data = (byte[])input.Clone();
        // Bias towards the start of the file, where headers and length fields live.
        int Offset() => random.Next(4) == 0 ? random.Next(Math.Min(data.Length, 64)) : random.Next(data.Length);
        switch (random.Next(9))
        {
            case 0:
            {
                int n = 1 + random.Next(4);
                var offsets = new List<int>(n);
                for (int i = 0; i < n; i++)
                {
                    int o = Offset();
                    data[o] ^= (byte)(1 << random.Next(8));
                    offsets.Add(o);
                }
                description = "bit flips at " + string.Join(",", offsets);
                return data;
            }
            case 1:
            {
                int o = Offset();
                data[o] = Interesting[random.Next(Interesting.Length)];
                description = $"byte {o} := 0x{data[o]:X2}";
                return data;
            }
            case 2:
            {
                int o = Offset();
                data[o] = (byte)random.Next(256);
                description = $"byte {o} := random 0x{data[o]:X2}";
                return data;
            }
            case 3:
            {
                int keep = random.Next(data.Length);
                description = $"truncate to {keep} of {data.Length}";
                return data[..keep];
            }
            case 4:
            {
                int start = Offset();
                int length = 1 + random.Next(Math.Min(256, data.Length - start));
                int at = random.Next(data.Length + 1);
                description = $"duplicate [{start},+{length}) at {at}";
                return [.. data[..at], .. data.AsSpan(start, length), .. data[at..]];
            }
            case 5:
            {
                var chunk = new byte[1 + random.Next(64)];
                random.NextBytes(chunk);
                int at = random.Next(data.Length + 1);
                description = $"insert {chunk.Length} random bytes at {at}";
                return [.. data[..at], .. chunk, .. data[at..]];
            }
            case 6:
            {
                int start = Offset();
                int length = 1 + random.Next(Math.Min(256, data.Length - start));
                description = $"remove [{start},+{length})";
                return [.. data[..start], .. data[(start + length)..]];
            }
            case 7 when data.Length >= 4:
            {
                int o = random.Next(4) == 0 ? random.Next(data.Length - 3) : random.Next(Math.Min(data.Length - 3, 64));
                bool big = random.Next(2) == 0;
                uint value = big ? BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(o)) : BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(o));
                uint[] choices = [value + 1, value - 1, value * 2, value + 4096, 0, uint.MaxValue, int.MaxValue, 0x80000000, 0x10000];
                uint next = choices[random.Next(choices.Length)];
                if (big)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(o), next);
                }
                else
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(o), next);
                }
                description = $"u32{(big ? "be" : "le")} at {o}: {value} -> {next}";
                return data;
            }
            default:
            {
                if (data.Length < 8)
                {
                    goto case 1;
                }
                int o = random.Next(Math.Min(data.Length - 7, 64));
                long value = BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(o));
                long[] choices = [value + 1, value - 1, value * 16, long.MaxValue, long.MinValue, -1, 1L << 40];
                long next = choices[random.Next(choices.Length)];
                BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(o), next);
                description = $"i64le at {o}: {value} -> {next}";
                return data;
            }
        }
    }
}
