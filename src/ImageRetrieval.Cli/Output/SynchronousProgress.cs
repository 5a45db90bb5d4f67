namespace ImageRetrieval.Cli.Output;

/// <summary>An <see cref="IProgress{T}"/> that calls its handler on the reporting thread (System.Progress would post to the thread pool, after the work is done).</summary>
internal sealed class SynchronousProgress<T>(Action<T> handler) : IProgress<T>
{
    public void Report(T value) => handler(value);
}
