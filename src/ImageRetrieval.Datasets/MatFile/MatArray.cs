namespace ImageRetrieval.Datasets.MatFile;

/// <summary>The MATLAB class of an array, as stored in the array-flags sub-element (<c>mxCLASS</c> codes).</summary>
public enum MatClass
{
    /// <summary>Cell array (<c>mxCELL_CLASS</c>, 1). Listed only; elements are not read.</summary>
    Cell = 1,

    /// <summary>Structure (<c>mxSTRUCT_CLASS</c>, 2). Listed only.</summary>
    Struct = 2,

    /// <summary>Object (<c>mxOBJECT_CLASS</c>, 3). Listed only.</summary>
    Object = 3,

    /// <summary>Character array (<c>mxCHAR_CLASS</c>, 4). Listed only.</summary>
    Char = 4,

    /// <summary>Sparse matrix (<c>mxSPARSE_CLASS</c>, 5). Listed only.</summary>
    Sparse = 5,

    /// <summary>Double precision (<c>mxDOUBLE_CLASS</c>, 6).</summary>
    Double = 6,

    /// <summary>Single precision (<c>mxSINGLE_CLASS</c>, 7).</summary>
    Single = 7,

    /// <summary>Signed 8-bit integers (<c>mxINT8_CLASS</c>, 8).</summary>
    Int8 = 8,

    /// <summary>Unsigned 8-bit integers (<c>mxUINT8_CLASS</c>, 9); also MATLAB's <c>logical</c> arrays.</summary>
    UInt8 = 9,

    /// <summary>Signed 16-bit integers (10).</summary>
    Int16 = 10,

    /// <summary>Unsigned 16-bit integers (11).</summary>
    UInt16 = 11,

    /// <summary>Signed 32-bit integers (12).</summary>
    Int32 = 12,

    /// <summary>Unsigned 32-bit integers (13).</summary>
    UInt32 = 13,

    /// <summary>Signed 64-bit integers (14); values beyond ±2^53 lose precision as doubles.</summary>
    Int64 = 14,

    /// <summary>Unsigned 64-bit integers (15); values beyond 2^53 lose precision as doubles.</summary>
    UInt64 = 15,

    /// <summary>Function handle (16). Listed only.</summary>
    Function = 16,

    /// <summary>Opaque MATLAB object (17). Listed only.</summary>
    Opaque = 17,
}

/// <summary>
/// One variable of a MAT-file: its name, dimensions, class and, for real numeric arrays, its values
/// converted to <see cref="double"/> in MATLAB's column-major order.
/// </summary>
public sealed class MatArray
{
    private readonly double[]? _values;
    private readonly int[] _dimensions;

    internal MatArray(string source, string name, int[] dimensions, MatClass matClass, bool isComplex, bool isLogical, double[]? values)
    {
        Source = source;
        Name = name;
        _dimensions = dimensions;
        Class = matClass;
        IsComplex = isComplex;
        IsLogical = isLogical;
        _values = values;
    }

    /// <summary>The file (or in-memory source) the variable was read from, used in error messages.</summary>
    public string Source { get; }

    /// <summary>The variable name.</summary>
    public string Name { get; }

    /// <summary>The dimensions (at least two, e.g. <c>[1, 8189]</c> for a row vector).</summary>
    public IReadOnlyList<int> Dimensions => _dimensions;

    /// <summary>The MATLAB class.</summary>
    public MatClass Class { get; }

    /// <summary>Whether the array has an imaginary part (its values are then not available).</summary>
    public bool IsComplex { get; }

    /// <summary>Whether the array is a MATLAB <c>logical</c> (stored as <see cref="MatClass.UInt8"/>).</summary>
    public bool IsLogical { get; }

    /// <summary>Whether <see cref="Values"/> is available: a real array of a numeric class.</summary>
    public bool HasValues => _values is not null;

    /// <summary>Number of elements: the product of <see cref="Dimensions"/>.</summary>
    public long ElementCount
    {
        get
        {
            long count = 1;
            foreach (int d in _dimensions)
            {
                count *= d;
            }
            return count;
        }
    }

    /// <summary>Whether the array is a vector (or scalar or empty): at most one dimension is larger than 1.</summary>
    public bool IsVector => _dimensions.Count(d => d != 1) <= 1;

    /// <summary>The values in column-major order, converted to <see cref="double"/>.</summary>
    /// <exception cref="NotSupportedException">The array is not a real numeric array (see <see cref="HasValues"/>).</exception>
    public ReadOnlySpan<double> Values => _values ?? throw new NotSupportedException(
        $"MAT variable '{Name}' in '{Source}' is {Describe()}; only real numeric arrays have values.");

    /// <summary>The element at <paramref name="row"/>, <paramref name="column"/> of a two-dimensional array.</summary>
    /// <exception cref="NotSupportedException">The array has no values or is not two-dimensional.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside the array.</exception>
    public double this[int row, int column]
    {
        get
        {
            ReadOnlySpan<double> values = Values;
            if (_dimensions.Length != 2)
            {
                throw new NotSupportedException($"MAT variable '{Name}' in '{Source}' has {_dimensions.Length} dimensions, not 2.");
            }
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)row, (uint)_dimensions[0], nameof(row));
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)column, (uint)_dimensions[1], nameof(column));
            return values[(column * _dimensions[0]) + row];
        }
    }

    /// <summary>
    /// The values as integers, for index and label vectors (MATLAB stores them as doubles). Every value
    /// must be a whole number in <see cref="int"/> range.
    /// </summary>
    /// <exception cref="NotSupportedException">The array has no values.</exception>
    /// <exception cref="InvalidDataException">A value is not a whole number in <see cref="int"/> range; the message names the file, variable and position.</exception>
    public int[] ToInt32Array()
    {
        ReadOnlySpan<double> values = Values;
        var result = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            double v = values[i];
            if (!(v >= int.MinValue && v <= int.MaxValue) || Math.Floor(v) != v)
            {
                throw new InvalidDataException(
                    $"MAT variable '{Name}' in '{Source}' holds {v.ToString(System.Globalization.CultureInfo.InvariantCulture)} at index {i}, not a whole number.");
            }
            result[i] = (int)v;
        }
        return result;
    }

    /// <summary>A short description such as <c>1x8189 double</c>.</summary>
    public string Describe() =>
        string.Join("x", _dimensions) + " " + (IsLogical ? "logical" : Class.ToString().ToLowerInvariant()) + (IsComplex ? " complex" : "");

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {Describe()}";
}
