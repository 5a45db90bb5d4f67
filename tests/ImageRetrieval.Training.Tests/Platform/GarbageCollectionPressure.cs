namespace ImageRetrieval.Training.Tests.Platform;

/// <summary>
/// Forces full garbage collections and runs finalizers on another thread until disposed: the conditions under
/// which a TorchSharp <c>Scalar</c> that nothing references any more is freed while libtorch still reads it.
/// </summary>
internal sealed class GarbageCollectionPressure : IDisposable
{
    private readonly Thread _thread;
    private volatile bool _stop;

    public GarbageCollectionPressure()
    {
        _thread = new Thread(() =>
        {
            while (!_stop)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        })
        { IsBackground = true, Name = "GC pressure" };
        _thread.Start();
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }
}
