using System.Collections;
using System.Linq.Expressions;
using Microsoft.Extensions.VectorData.ProviderServices;
using Microsoft.Extensions.VectorData.ProviderServices.Filter;

namespace ImageRetrieval.ML.VectorStores;

/// <summary>
/// Translates a LINQ filter (<c>r =&gt; r.Category == "shoes" &amp;&amp; r.Price &lt; 50</c>, or over a dynamic record
/// <c>r =&gt; (string)r["Category"] == "shoes"</c>) into a <see cref="RecordFilter"/>. Supported: <c>==</c>, <c>!=</c>,
/// <c>&lt;</c>, <c>&lt;=</c>, <c>&gt;</c>, <c>&gt;=</c> between a property and a value, bool properties, <c>&amp;&amp;</c>,
/// <c>||</c>, <c>!</c>, <c>Contains</c> on a collection property, and <c>values.Contains(property)</c>. Captured variables
/// and members are evaluated once, here. Properties must be data properties marked indexed (or the key), as in
/// providers where an unindexed field cannot be filtered. Anything else is refused with the expression in the message.
/// </summary>
internal sealed class HnswFilterTranslator : FilterTranslatorBase
{
    private readonly Dictionary<string, int> _fields;

    private HnswFilterTranslator(Dictionary<string, int> fields) => _fields = fields;

    /// <exception cref="NotSupportedException">The expression uses something the provider cannot evaluate.</exception>
    /// <exception cref="InvalidOperationException">A property is unknown or not indexed.</exception>
    public static RecordFilter Translate(LambdaExpression filter, CollectionModel model)
    {
        var fields = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < model.DataProperties.Count; i++)
        {
            fields[model.DataProperties[i].ModelName] = i;
        }
        var translator = new HnswFilterTranslator(fields);
        Expression body = translator.PreprocessFilter(filter, model, new FilterPreprocessingOptions { SupportsParameterization = false });
        return translator.Translate(body);
    }

    private RecordFilter Translate(Expression node)
    {
        switch (node)
        {
            case BinaryExpression { NodeType: ExpressionType.AndAlso } and:
                return new RecordFilter.And(Translate(and.Left), Translate(and.Right));
            case BinaryExpression { NodeType: ExpressionType.OrElse } or:
                return new RecordFilter.Or(Translate(or.Left), Translate(or.Right));
            case UnaryExpression { NodeType: ExpressionType.Not } not:
                return new RecordFilter.Not(Translate(not.Operand));
            case BinaryExpression { NodeType: ExpressionType.Equal or ExpressionType.NotEqual or ExpressionType.LessThan or ExpressionType.LessThanOrEqual or ExpressionType.GreaterThan or ExpressionType.GreaterThanOrEqual } binary:
                return TranslateComparison(binary);
            case ConstantExpression { Value: bool value }:
                return new RecordFilter.Constant(value);
            case MethodCallExpression call when TryMatchContains(call, out Expression? source, out Expression? item):
                return TranslateContains(call, source, item);
        }
        if (node.Type == typeof(bool) && TryField(node, out int field, out PropertyModel? property))
        {
            if ((Nullable.GetUnderlyingType(property.Type) ?? property.Type) != typeof(bool))
            {
                throw new NotSupportedException($"Property '{property.ModelName}' is used as a condition but is a {property.Type.Name}, not a bool.");
            }
            return new RecordFilter.IsTrue(field);
        }
        throw Unsupported(node);
    }

    private RecordFilter TranslateComparison(BinaryExpression binary)
    {
        ExpressionType op = binary.NodeType;
        if (TryField(binary.Left, out int field, out _) && TryValue(binary.Right, out object? value))
        {
            return new RecordFilter.Compare(field, op, value);
        }
        if (TryField(binary.Right, out field, out _) && TryValue(binary.Left, out value))
        {
            // 8 < r.Int is r.Int > 8.
            ExpressionType flipped = op switch
            {
                ExpressionType.LessThan => ExpressionType.GreaterThan,
                ExpressionType.LessThanOrEqual => ExpressionType.GreaterThanOrEqual,
                ExpressionType.GreaterThan => ExpressionType.LessThan,
                ExpressionType.GreaterThanOrEqual => ExpressionType.LessThanOrEqual,
                _ => op,
            };
            return new RecordFilter.Compare(field, flipped, value);
        }
        throw Unsupported(binary, "a comparison needs a record property on one side and a value (a constant or a captured variable) on the other");
    }

    private RecordFilter TranslateContains(MethodCallExpression call, Expression source, Expression item)
    {
        if (TryField(source, out int field, out PropertyModel? property) && TryValue(item, out object? value))
        {
            if (DataValues.ElementType(property.Type) is null)
            {
                throw new NotSupportedException($"Contains over property '{property.ModelName}' of type {property.Type.Name}: only array and List<T> properties can be searched for an element.");
            }
            return new RecordFilter.CollectionContains(field, value);
        }
        if (TryValue(source, out object? values) && TryField(item, out field, out _))
        {
            if (values is not IEnumerable enumerable || values is string)
            {
                throw Unsupported(call, "the collection in values.Contains(property) must be a collection of values");
            }
            return new RecordFilter.In(field, enumerable.Cast<object?>().ToList());
        }
        throw Unsupported(call, "Contains needs a collection property and a value, or a collection of values and a property");
    }

    private bool TryField(Expression expression, out int field, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PropertyModel? property)
    {
        field = 0;
        if (!TryBindProperty(expression, out property))
        {
            return false;
        }
        if (property is KeyPropertyModel)
        {
            field = -1;
            return true;
        }
        if (property is DataPropertyModel data && _fields.TryGetValue(data.ModelName, out field))
        {
            if (!data.IsIndexed)
            {
                throw new InvalidOperationException(
                    $"Property '{data.ModelName}' is not indexed, so it cannot be filtered on. Mark it [VectorStoreData(IsIndexed = true)] " +
                    "(or IsIndexed = true in the collection definition); stores such as Qdrant or Azure AI Search require the same.");
            }
            return true;
        }
        throw new NotSupportedException($"Property '{property.ModelName}' is a vector property; filters apply to the key and data properties.");
    }

    private static bool TryValue(Expression expression, out object? value)
    {
        while (expression is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } convert)
        {
            expression = convert.Operand;
        }
        switch (expression)
        {
            case ConstantExpression constant:
                value = constant.Value;
                return true;
            case NewArrayExpression { NodeType: ExpressionType.NewArrayInit } array:
                var items = new List<object?>(array.Expressions.Count);
                foreach (Expression element in array.Expressions)
                {
                    if (!TryValue(element, out object? item))
                    {
                        value = null;
                        return false;
                    }
                    items.Add(item);
                }
                value = items;
                return true;
            default:
                value = null;
                return false;
        }
    }

    private static NotSupportedException Unsupported(Expression node, string? why = null) =>
        new($"The filter expression '{node}' is not supported by the HNSW provider{(why is null ? "" : ": " + why)}. " +
            "Supported: ==, !=, <, <=, >, >= between a property and a value; bool properties; &&, ||, !; " +
            "collectionProperty.Contains(value); values.Contains(property).");
}
