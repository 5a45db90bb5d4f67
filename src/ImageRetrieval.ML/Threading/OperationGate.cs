namespace ImageRetrieval.ML.Threading;

/// <summary>
/// Counts the operations running on an object so that <c>Dispose</c> can wait for them instead of freeing memory under
/// them: an operation enters (refused once closing has begun) and exits; <see cref="CloseAndWait"/> refuses new ones
/// and returns when the last one has left.
/// </summary>
internal sealed class OperationGate
{
    private readonly object _sync = new();
    private int _running;
    private bool _closed;

    public bool IsClosed => Volatile.Read(ref _closed);

    /// <summary>Enters an operation; dispose the returned scope to exit.</summary>
    /// <exception cref="ObjectDisposedException">The owner is closing or closed.</exception>
    public Scope Enter(object owner)
    {
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_closed, owner);
            _running++;
        }
        return new Scope(this);
    }

    /// <summary>Refuses new operations and waits for the running ones. Returns false if already closed.</summary>
    public bool CloseAndWait()
    {
        lock (_sync)
        {
            if (_closed)
            {
                return false;
            }
            _closed = true;
            while (_running > 0)
            {
                Monitor.Wait(_sync);
            }
        }
        return true;
    }

    private void Exit()
    {
        lock (_sync)
        {
            if (--_running == 0)
            {
                Monitor.PulseAll(_sync);
            }
        }
    }

    public readonly struct Scope(OperationGate gate) : IDisposable
    {
        public void Dispose() => gate.Exit();
    }
}
