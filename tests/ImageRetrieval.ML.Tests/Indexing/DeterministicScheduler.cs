using ImageRetrieval.ML.Indexing;

namespace ImageRetrieval.ML.Tests.Indexing;

/// <summary>
/// Runs a few thread bodies so that exactly one of them runs at a time and control passes from one to another only at
/// the index's schedule points (<see cref="SchedulePoint"/>: node locks, seqlock reads and writes, slot hand-over, lock
/// acquisition), chosen by a seeded random. The same seed and bodies give the same interleaving, so a failing run
/// replays exactly; many seeds explore many interleavings (the idea of Coyote's systematic testing, scoped to the index).
/// </summary>
internal sealed class DeterministicScheduler
{
    [ThreadStatic]
    private static Worker? t_current;

    private static readonly Lock s_installed = new();

    private readonly Random _random;
    private readonly List<Worker> _workers = [];
    private readonly int _stepBudget;
    private readonly double _switchProbability;
    private readonly ManualResetEventSlim _finished = new(false);
    private int _steps;
    private volatile bool _freeRunning;

    private DeterministicScheduler(int seed, int stepBudget, double switchProbability)
    {
        _random = new Random(seed);
        _stepBudget = stepBudget;
        _switchProbability = switchProbability;
    }

    /// <summary>Schedule points passed (a measure of how much interleaving was explored).</summary>
    public int Steps => _steps;

    /// <summary>
    /// Runs <paramref name="bodies"/> to completion under one interleaving chosen by <paramref name="seed"/>. Throws the
    /// first exception a body threw, or if the bodies need more than <paramref name="stepBudget"/> schedule points
    /// (a livelock) or stop reaching schedule points for a minute (a thread blocked outside the scheduler's control).
    /// </summary>
    public static int Run(int seed, IReadOnlyList<Action> bodies, int stepBudget = 2_000_000, double switchProbability = 0.25)
    {
        lock (s_installed)
        {
            var scheduler = new DeterministicScheduler(seed, stepBudget, switchProbability);
            SchedulePoint.Hook = Point;
            try
            {
                return scheduler.RunCore(bodies);
            }
            finally
            {
                SchedulePoint.Hook = null;
            }
        }
    }

    private static void Point()
    {
        Worker? w = t_current;
        w?.Scheduler.Switch(w);
    }

    private int RunCore(IReadOnlyList<Action> bodies)
    {
        for (int i = 0; i < bodies.Count; i++)
        {
            var worker = new Worker(this, i);
            Action body = bodies[i];
            worker.Thread = new Thread(() => WorkerMain(worker, body)) { IsBackground = true, Name = $"scheduled-{i}" };
            _workers.Add(worker);
        }
        foreach (Worker w in _workers)
        {
            w.Thread!.Start();
        }
        _workers[_random.Next(_workers.Count)].Go.Release();
        if (!_finished.Wait(TimeSpan.FromMinutes(1)))
        {
            _freeRunning = true;
            foreach (Worker w in _workers)
            {
                w.Go.Release();
            }
            throw new InvalidOperationException("Deadlock: a scheduled thread blocked outside the scheduler's control for a minute.");
        }
        foreach (Worker w in _workers)
        {
            w.Thread!.Join();
        }
        Exception? error = _workers.Select(w => w.Error).FirstOrDefault(e => e is not null);
        if (error is not null)
        {
            throw new AggregateException($"A scheduled thread failed after {_steps} schedule points.", error);
        }
        if (_freeRunning)
        {
            throw new InvalidOperationException($"Livelock: more than {_stepBudget} schedule points.");
        }
        return _steps;
    }

    private void WorkerMain(Worker w, Action body)
    {
        t_current = w;
        w.Go.Wait();
        try
        {
            body();
        }
        catch (Exception e)
        {
            w.Error = e;
        }
        finally
        {
            t_current = null;
            Worker? next;
            lock (_workers)
            {
                w.Done = true;
                next = PickRunnable();
            }
            if (next is null)
            {
                _finished.Set();
            }
            else if (!_freeRunning)
            {
                next.Go.Release();
            }
        }
    }

    private void Switch(Worker current)
    {
        if (_freeRunning)
        {
            return;
        }
        Worker? next;
        lock (_workers)
        {
            if (++_steps > _stepBudget)
            {
                _freeRunning = true;
                foreach (Worker w in _workers)
                {
                    if (w != current && !w.Done)
                    {
                        w.Go.Release();
                    }
                }
                return;
            }
            if (_random.NextDouble() >= _switchProbability)
            {
                return;
            }
            next = PickRunnable();
        }
        if (next is null || next == current)
        {
            return;
        }
        next.Go.Release();
        current.Go.Wait();
    }

    /// <summary>Caller holds the list lock. A random worker that has not finished, or null.</summary>
    private Worker? PickRunnable()
    {
        int runnable = _workers.Count(w => !w.Done);
        if (runnable == 0)
        {
            return null;
        }
        int pick = _random.Next(runnable);
        return _workers.Where(w => !w.Done).ElementAt(pick);
    }

    private sealed class Worker(DeterministicScheduler scheduler, int index)
    {
        public DeterministicScheduler Scheduler { get; } = scheduler;

        public int Index { get; } = index;

        public SemaphoreSlim Go { get; } = new(0);

        public Thread? Thread { get; set; }

        public bool Done { get; set; }

        public Exception? Error { get; set; }
    }
}
