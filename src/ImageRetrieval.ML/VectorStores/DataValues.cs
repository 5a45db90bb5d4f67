using System.Collections;
using System.Globalization;
using System.Text.Json;

namespace ImageRetrieval.ML.VectorStores;

/// <summary>
/// The data-property types the HNSW provider stores, their names in a collection's manifest, and their JSON form.
/// Written and read by hand (no reflection), so persistence is safe to trim.
/// </summary>
internal static class DataValues
{
    private static readonly Dictionary<Type, string> ScalarNames = new()
    {
        [typeof(string)] = "string",
        [typeof(bool)] = "bool",
        [typeof(int)] = "int32",
        [typeof(long)] = "int64",
        [typeof(short)] = "int16",
        [typeof(float)] = "float32",
        [typeof(double)] = "float64",
        [typeof(decimal)] = "decimal",
        [typeof(DateTime)] = "datetime",
        [typeof(DateTimeOffset)] = "datetimeoffset",
        [typeof(Guid)] = "guid",
    };

    // Arrays and lists of each supported element type, made without reflection (Activator and Array.CreateInstance are
    // neither trim- nor AOT-safe): the element types are a closed set, so each gets its constructors here.
    private static readonly Dictionary<Type, Func<int, IList>> NewArray = [];
    private static readonly Dictionary<Type, Func<int, IList>> NewList = [];

#pragma warning disable CA1810 // The factories are filled in one place, after ScalarNames.
    static DataValues()
#pragma warning restore CA1810
    {
        Register<string>();
        RegisterValue<bool>();
        RegisterValue<int>();
        RegisterValue<long>();
        RegisterValue<short>();
        RegisterValue<float>();
        RegisterValue<double>();
        RegisterValue<decimal>();
        RegisterValue<DateTime>();
        RegisterValue<DateTimeOffset>();
        RegisterValue<Guid>();

        static void Register<T>()
        {
            NewArray[typeof(T)] = n => new T[n];
            NewList[typeof(T)] = n => new List<T>(n);
        }

        static void RegisterValue<T>()
            where T : struct
        {
            Register<T>();
            Register<T?>();
        }
    }

    /// <summary>The supported data-property types, for error messages.</summary>
    public const string Supported = "string, bool, int, long, short, float, double, decimal, DateTime, DateTimeOffset, Guid (and their nullable forms), and arrays or List<T> of those";

    /// <summary>The manifest name of a supported type, e.g. <c>int32?</c> or <c>list&lt;string&gt;</c>; null if unsupported.</summary>
    public static string? NameOf(Type type)
    {
        if (Nullable.GetUnderlyingType(type) is Type underlying)
        {
            return ScalarNames.TryGetValue(underlying, out string? n) ? n + "?" : null;
        }
        if (ScalarNames.TryGetValue(type, out string? name))
        {
            return name;
        }
        if (ElementType(type) is Type element && ScalarNames.TryGetValue(Nullable.GetUnderlyingType(element) ?? element, out string? e))
        {
            string inner = Nullable.GetUnderlyingType(element) is null ? e : e + "?";
            return type.IsArray ? inner + "[]" : "list<" + inner + ">";
        }
        return null;
    }

    /// <summary>The element type of an array or <see cref="List{T}"/>, else null.</summary>
    public static Type? ElementType(Type type) =>
        type.IsArray ? type.GetElementType()
        : type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) ? type.GetGenericArguments()[0]
        : null;

    /// <summary>A private copy of a value (collections are copied so a caller mutating its record later cannot change the stored one).</summary>
    public static object? Snapshot(object? value) => value switch
    {
        null => null,
        Array array => array.Clone(),
        IList list when list.GetType().IsGenericType => CopyList(list),
        _ => value,
    };

    private static IList CopyList(IList list)
    {
        IList copy = CreateCollection(list.GetType(), list.Count);
        foreach (object? item in list)
        {
            copy.Add(item);
        }
        return copy;
    }

    /// <summary>An empty <see cref="List{T}"/> with room for <paramref name="count"/> items, or an array of that length, of a supported element type.</summary>
    private static IList CreateCollection(Type type, int count)
    {
        Type element = ElementType(type) ?? throw new NotSupportedException($"{type.Name} is not an array or List<T>.");
        Dictionary<Type, Func<int, IList>> factories = type.IsArray ? NewArray : NewList;
        return factories.TryGetValue(element, out Func<int, IList>? create)
            ? create(count)
            : throw new NotSupportedException($"Collections of {element.Name} cannot be stored; supported: {Supported}.");
    }

    public static void Write(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null: writer.WriteNullValue(); break;
            case string s: writer.WriteStringValue(s); break;
            case bool b: writer.WriteBooleanValue(b); break;
            case int i: writer.WriteNumberValue(i); break;
            case long l: writer.WriteNumberValue(l); break;
            case short h: writer.WriteNumberValue(h); break;
            // Floats keep their exact bits through the round-trip ("R" formatting is what the writer does for float/double).
            case float f: writer.WriteNumberValue(f); break;
            case double d: writer.WriteNumberValue(d); break;
            case decimal m: writer.WriteNumberValue(m); break;
            case DateTime t: writer.WriteStringValue(t.ToString("O", CultureInfo.InvariantCulture)); break;
            case DateTimeOffset o: writer.WriteStringValue(o.ToString("O", CultureInfo.InvariantCulture)); break;
            case Guid g: writer.WriteStringValue(g); break;
            case IEnumerable items:
                writer.WriteStartArray();
                foreach (object? item in items)
                {
                    Write(writer, item);
                }
                writer.WriteEndArray();
                break;
            default: throw new NotSupportedException($"Values of type {value.GetType().Name} cannot be stored; supported: {Supported}.");
        }
    }

    /// <exception cref="InvalidDataException">The JSON does not hold a value of <paramref name="type"/>.</exception>
    public static object? Read(JsonElement json, Type type, string source)
    {
        if (json.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        try
        {
            Type scalar = Nullable.GetUnderlyingType(type) ?? type;
            if (ElementType(type) is Type element)
            {
                var values = json.EnumerateArray().Select(e => Read(e, element, source)).ToList();
                IList collection = CreateCollection(type, values.Count);
                for (int i = 0; i < values.Count; i++)
                {
                    if (type.IsArray)
                    {
                        collection[i] = values[i];
                    }
                    else
                    {
                        collection.Add(values[i]);
                    }
                }
                return collection;
            }
            return scalar switch
            {
                _ when scalar == typeof(string) => json.GetString(),
                _ when scalar == typeof(bool) => json.GetBoolean(),
                _ when scalar == typeof(int) => json.GetInt32(),
                _ when scalar == typeof(long) => json.GetInt64(),
                _ when scalar == typeof(short) => json.GetInt16(),
                _ when scalar == typeof(float) => json.GetSingle(),
                _ when scalar == typeof(double) => json.GetDouble(),
                _ when scalar == typeof(decimal) => json.GetDecimal(),
                _ when scalar == typeof(DateTime) => DateTime.Parse(json.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
                _ when scalar == typeof(DateTimeOffset) => DateTimeOffset.Parse(json.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
                _ when scalar == typeof(Guid) => json.GetGuid(),
                _ => throw new InvalidDataException($"{source}: type {type.Name} is not storable."),
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{source}: '{json.GetRawText()}' is not a {type.Name} ({e.Message}).", e);
        }
    }
}
