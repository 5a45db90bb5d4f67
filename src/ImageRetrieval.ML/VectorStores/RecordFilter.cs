using System.Collections;
using System.Linq.Expressions;

namespace ImageRetrieval.ML.VectorStores;

/// <summary>
/// The provider's own filter language: what a LINQ filter is translated into, evaluated per record inside the HNSW
/// traversal (against the stored values, no user code and no compiled expression trees). Field -1 is the key.
/// </summary>
internal abstract class RecordFilter
{
    public abstract bool Matches(StoredRecord record);

    protected static object? Field(StoredRecord record, int field) => field < 0 ? record.Key : record.Data[field];

    public sealed class And(RecordFilter left, RecordFilter right) : RecordFilter
    {
        public override bool Matches(StoredRecord record) => left.Matches(record) && right.Matches(record);
    }

    public sealed class Or(RecordFilter left, RecordFilter right) : RecordFilter
    {
        public override bool Matches(StoredRecord record) => left.Matches(record) || right.Matches(record);
    }

    public sealed class Not(RecordFilter inner) : RecordFilter
    {
        public override bool Matches(StoredRecord record) => !inner.Matches(record);
    }

    public sealed class Constant(bool value) : RecordFilter
    {
        public override bool Matches(StoredRecord record) => value;
    }

    /// <summary>A bool field that is true (null is not).</summary>
    public sealed class IsTrue(int field) : RecordFilter
    {
        public override bool Matches(StoredRecord record) => Field(record, field) is true;
    }

    /// <summary><c>field op value</c>; null equals only null, and orders before nothing (comparisons with null are false).</summary>
    public sealed class Compare(int field, ExpressionType op, object? value) : RecordFilter
    {
        public override bool Matches(StoredRecord record)
        {
            object? actual = Field(record, field);
            switch (op)
            {
                case ExpressionType.Equal:
                    return ValuesEqual(actual, value);
                case ExpressionType.NotEqual:
                    return !ValuesEqual(actual, value);
            }
            if (actual is null || value is null)
            {
                return false;
            }
            int c = CompareValues(actual, value);
            return op switch
            {
                ExpressionType.LessThan => c < 0,
                ExpressionType.LessThanOrEqual => c <= 0,
                ExpressionType.GreaterThan => c > 0,
                ExpressionType.GreaterThanOrEqual => c >= 0,
                _ => false,
            };
        }
    }

    /// <summary>A collection field holds <c>value</c> (<c>r.Tags.Contains("x")</c>).</summary>
    public sealed class CollectionContains(int field, object? value) : RecordFilter
    {
        public override bool Matches(StoredRecord record)
        {
            if (Field(record, field) is not IEnumerable items)
            {
                return false;
            }
            foreach (object? item in items)
            {
                if (ValuesEqual(item, value))
                {
                    return true;
                }
            }
            return false;
        }
    }

    /// <summary>The field's value is one of <c>values</c> (<c>new[] { 8, 10 }.Contains(r.Int)</c>).</summary>
    public sealed class In(int field, IReadOnlyList<object?> values) : RecordFilter
    {
        public override bool Matches(StoredRecord record)
        {
            object? actual = Field(record, field);
            foreach (object? v in values)
            {
                if (ValuesEqual(actual, v))
                {
                    return true;
                }
            }
            return false;
        }
    }

    internal static bool ValuesEqual(object? a, object? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }
        if (a.GetType() == b.GetType())
        {
            return a.Equals(b);
        }
        return IsNumber(a) && IsNumber(b) && Convert.ToDecimal(a, System.Globalization.CultureInfo.InvariantCulture) == Convert.ToDecimal(b, System.Globalization.CultureInfo.InvariantCulture);
    }

    internal static int CompareValues(object a, object b)
    {
        if (a.GetType() == b.GetType() && a is IComparable comparable)
        {
            return a is string s ? string.CompareOrdinal(s, (string)b) : comparable.CompareTo(b);
        }
        if (IsNumber(a) && IsNumber(b))
        {
            return Convert.ToDouble(a, System.Globalization.CultureInfo.InvariantCulture).CompareTo(Convert.ToDouble(b, System.Globalization.CultureInfo.InvariantCulture));
        }
        throw new InvalidOperationException($"Cannot compare a {a.GetType().Name} with a {b.GetType().Name}.");
    }

    private static bool IsNumber(object o) => o is int or long or short or float or double or decimal;
}
