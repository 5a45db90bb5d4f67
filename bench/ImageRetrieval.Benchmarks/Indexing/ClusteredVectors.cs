namespace ImageRetrieval.Benchmarks.Indexing;

/// <summary>Gaussian clusters: a unit-Gaussian centre per cluster, points at the given spread around it (seeded).</summary>
internal sealed class ClusteredVectors(int dim, int clusters, int seed, float spread)
{
    private readonly float[][] _centres = Enumerable.Range(0, clusters).Select(c => Gaussian(new Random(seed * 7919 + c), dim, 1f)).ToArray();

    public float[] Next(Random random)
    {
        float[] centre = _centres[random.Next(_centres.Length)];
        float[] v = Gaussian(random, dim, spread);
        for (int i = 0; i < dim; i++)
        {
            v[i] += centre[i];
        }
        return v;
    }

    private static float[] Gaussian(Random random, int dim, float scale)
    {
        var v = new float[dim];
        for (int i = 0; i < dim; i++)
        {
            v[i] = scale * (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }
        return v;
    }
}
