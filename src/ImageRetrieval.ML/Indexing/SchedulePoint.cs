using System.Runtime.CompilerServices;

namespace ImageRetrieval.ML.Indexing;

/// <summary>
/// The places where the index's threads interact (locks, seqlock reads and writes, slot hand-over), named so that a
/// deterministic test scheduler can switch threads exactly there and replay an interleaving from a seed.
/// </summary>
/// <remarks>
/// Outside tests <see cref="Hook"/> is null: <see cref="Here"/> is one load and a branch, and the lock helpers take
/// the ordinary blocking paths. Under a scheduler, only one controlled thread runs at a time, so a blocking wait
/// for a lock held by a paused thread would hang; the helpers therefore try the lock and yield to the scheduler
/// until it is free. See tests/ImageRetrieval.ML.Tests/Indexing/DeterministicScheduler.cs.
/// </remarks>
internal static class SchedulePoint
{
    /// <summary>Called at every schedule point while a test scheduler is installed; null otherwise.</summary>
    internal static Action? Hook;

    /// <summary>A point where another thread may run.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Here() => Hook?.Invoke();

    /// <summary><see cref="Monitor.Enter(object)"/>, yielding to the test scheduler while the lock is taken.</summary>
    internal static void Enter(object monitor)
    {
        Action? hook = Hook;
        if (hook is null)
        {
            Monitor.Enter(monitor);
            return;
        }
        hook();
        while (!Monitor.TryEnter(monitor))
        {
            hook();
        }
    }

    /// <summary><see cref="ReaderWriterLockSlim.EnterReadLock"/>, yielding to the test scheduler while a writer holds it.</summary>
    internal static void EnterRead(ReaderWriterLockSlim rw)
    {
        Action? hook = Hook;
        if (hook is null)
        {
            rw.EnterReadLock();
            return;
        }
        hook();
        while (!rw.TryEnterReadLock(0))
        {
            hook();
        }
    }

    /// <summary><see cref="ReaderWriterLockSlim.EnterWriteLock"/>, yielding to the test scheduler while the lock is held.</summary>
    internal static void EnterWrite(ReaderWriterLockSlim rw)
    {
        Action? hook = Hook;
        if (hook is null)
        {
            rw.EnterWriteLock();
            return;
        }
        hook();
        while (!rw.TryEnterWriteLock(0))
        {
            hook();
        }
    }

    /// <summary>One step of a spin-wait: yields to the test scheduler if one runs, else spins or yields the core.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Spin(ref SpinWait spin)
    {
        Action? hook = Hook;
        if (hook is not null)
        {
            hook();
            return;
        }
        spin.SpinOnce(sleep1Threshold: -1);
    }
}
