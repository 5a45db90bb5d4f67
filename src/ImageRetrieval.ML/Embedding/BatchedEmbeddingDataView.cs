using ImageRetrieval.ML.Imaging;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace ImageRetrieval.ML.Embedding;

/// <summary>
/// The lazy output of <see cref="BatchedImageEmbeddingTransformer"/>: every input column plus the embedding.
/// Each cursor walks the input with two cursors in lock-step: a look-ahead cursor that reads only the image
/// column, a chunk of several batches at a time, and hands the chunk to the <see cref="ImageEmbedder"/>; and a
/// main cursor that serves the pass-through columns of the current row.
/// </summary>
internal sealed class BatchedEmbeddingDataView : IDataView
{
    private readonly IDataView _input;
    private readonly BatchedImageEmbeddingTransformer _parent;

    public BatchedEmbeddingDataView(IDataView input, BatchedImageEmbeddingTransformer parent)
    {
        _input = input;
        _parent = parent;
        parent.CheckInputSchema(input.Schema);
        Schema = MakeSchema(input.Schema, parent);
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public static DataViewSchema MakeSchema(DataViewSchema input, BatchedImageEmbeddingTransformer parent)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        builder.AddColumn(parent.OutputColumnName, parent.OutputType);
        return builder.ToSchema();
    }

    public long? GetRowCount() => _parent.Options.OnError == ImageErrorPolicy.Skip ? null : _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        // The view cannot shuffle (rand is a hint): the look-ahead cursor must see the rows in the main cursor's order.
        var needed = columnsNeeded.ToList();
        int outputIndex = Schema.Count - 1;
        bool outputActive = needed.Any(c => c.Index == outputIndex);
        // Under Skip, rows are dropped by the embedding even if the embedding itself is not read.
        bool embed = outputActive || _parent.Options.OnError == ImageErrorPolicy.Skip;
        var inputColumns = needed.Where(c => c.Index < outputIndex).Select(c => _input.Schema[c.Index]).ToList();
        DataViewRowCursor main = _input.GetRowCursor(inputColumns);
        DataViewRowCursor? ahead = embed ? _input.GetRowCursor([_input.Schema[_parent.InputColumnName]]) : null;
        return new Cursor(this, main, ahead, outputActive);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly BatchedEmbeddingDataView _view;
        private readonly DataViewRowCursor _main;
        private readonly DataViewRowCursor? _ahead;
        private readonly bool _outputActive;
        private readonly int _outputIndex;
        private readonly int _dimension;
        private readonly int _chunkSize;
        private readonly Func<object?>? _read;
        private ImageEmbeddingResult? _chunk;
        private int _inChunk = -1;
        private long _chunkFirstRow;
        private long _inputRow = -1;
        private long _position = -1;
        private bool _aheadDone;

        public Cursor(BatchedEmbeddingDataView view, DataViewRowCursor main, DataViewRowCursor? ahead, bool outputActive)
        {
            _view = view;
            _main = main;
            _ahead = ahead;
            _outputActive = outputActive;
            _outputIndex = view.Schema.Count - 1;
            _dimension = view._parent.Embedder.Dimension;
            // A few batches per chunk so decoding of batch b+1 overlaps scoring of batch b.
            _chunkSize = view._parent.Embedder.BatchSize * 4;
            if (ahead is not null)
            {
                _read = MakeReader(ahead, view._input.Schema[view._parent.InputColumnName], view._parent.Kind);
            }
        }

        public override DataViewSchema Schema => _view.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _main.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index == _outputIndex ? _outputActive : _main.IsColumnActive(_view._input.Schema[column.Index]);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index != _outputIndex)
            {
                return _main.GetGetter<TValue>(_view._input.Schema[column.Index]);
            }
            if (!_outputActive)
            {
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
            }
            if (typeof(TValue) != typeof(VBuffer<float>))
            {
                throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}; asked for {typeof(TValue).Name}.");
            }
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
            {
                if (_chunk is null || _inChunk < 0)
                {
                    throw new InvalidOperationException("The cursor is not on a row.");
                }
                var editor = VBufferEditor.Create(ref value, _dimension);
                _chunk[_inChunk].CopyTo(editor.Values);
                value = editor.Commit();
            };
            return (ValueGetter<TValue>)(Delegate)getter;
        }

        public override bool MoveNext()
        {
            while (true)
            {
                if (!_main.MoveNext())
                {
                    return false;
                }
                _inputRow++;
                if (_ahead is not null)
                {
                    if (_chunk is null || _inChunk + 1 >= _chunk.Count)
                    {
                        FillChunk();
                    }
                    _inChunk++;
                    if (!_chunk!.Succeeded(_inChunk))
                    {
                        continue; // Skip policy: the error was recorded; drop the row.
                    }
                }
                _position++;
                return true;
            }
        }

        private void FillChunk()
        {
            var items = new List<object?>(_chunkSize);
            _chunkFirstRow = _inputRow;
            while (items.Count < _chunkSize && !_aheadDone)
            {
                if (_ahead!.MoveNext())
                {
                    items.Add(_read!());
                }
                else
                {
                    _aheadDone = true;
                }
            }
            if (items.Count == 0)
            {
                throw new InvalidOperationException("The input view gave its cursors different numbers of rows; the batched embedding needs a stable row order.");
            }
            _chunk = _view._parent.EmbedChunk(items, _chunkFirstRow);
            foreach (ImageEmbeddingError error in _chunk.Errors)
            {
                _view._parent.RecordSkipped(error with { Index = _chunkFirstRow + error.Index });
            }
            _inChunk = -1;
        }

        private static Func<object?> MakeReader(DataViewRowCursor cursor, DataViewSchema.Column column, ImageEmbeddingEstimator.InputKind kind)
        {
            if (kind == ImageEmbeddingEstimator.InputKind.Path)
            {
                var get = cursor.GetGetter<ReadOnlyMemory<char>>(column);
                ReadOnlyMemory<char> text = default;
                return () =>
                {
                    get(ref text);
                    return text.Length == 0 ? null : text.ToString();
                };
            }
            var getBytes = cursor.GetGetter<VBuffer<byte>>(column);
            VBuffer<byte> bytes = default;
            return () =>
            {
                getBytes(ref bytes);
                return bytes.Length == 0 ? null : bytes.DenseValues().ToArray();
            };
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _main.Dispose();
                _ahead?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
