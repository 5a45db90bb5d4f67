using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Runtime;

/// <summary>
/// Tensor–number arithmetic whose <see cref="Scalar"/> arguments outlive the native call that reads them.
/// </summary>
/// <remarks>
/// TorchSharp 0.107 turns a C# number into a <see cref="Scalar"/> — a finalizable wrapper of a native
/// <c>c10::Scalar</c> — and hands libtorch only its handle, with no <c>GC.KeepAlive</c> after the call. Any
/// implicit conversion (<c>t + 0.2f</c>, <c>t.gt(0)</c>, <c>t * 2</c>) and the hidden <c>alpha = 1</c> of
/// <c>add</c>, <c>add_</c> and <c>tensor + tensor</c> create such a temporary; if a garbage collection runs on
/// another thread while libtorch is in the call, the finalizer can free the native scalar under it, and the
/// call fails with "Unknown scalar type" or reads a wrong value. These helpers keep the scalar in a
/// <c>using</c> until the call has returned (which also frees it at once instead of on the finalizer thread)
/// and pass <see cref="One"/>, which lives for the whole process, as <c>alpha</c>.
/// </remarks>
internal static class ScalarOps
{
    /// <summary>1, alive for the whole process: the <c>alpha</c> of add and sub.</summary>
    public static Scalar One { get; } = 1.ToScalar();

    /// <summary>0, alive for the whole process.</summary>
    public static Scalar Zero { get; } = 0.ToScalar();

    /// <summary><c>tensor + other</c>.</summary>
    public static Tensor Plus(this Tensor tensor, Tensor other) => tensor.add(other, One);

    /// <summary><c>tensor + value</c> (floating point).</summary>
    public static Tensor Plus(this Tensor tensor, double value)
    {
        using var scalar = value.ToScalar();
        return tensor.add(scalar, One);
    }

    /// <summary><c>tensor + value</c> (integral: an integer tensor stays integral).</summary>
    public static Tensor Plus(this Tensor tensor, long value)
    {
        using var scalar = value.ToScalar();
        return tensor.add(scalar, One);
    }

    /// <summary><c>tensor += value</c>, in place.</summary>
    public static Tensor PlusInPlace(this Tensor tensor, double value)
    {
        using var scalar = value.ToScalar();
        return tensor.add_(scalar, One);
    }

    /// <summary><c>tensor · value</c> (floating point).</summary>
    public static Tensor Times(this Tensor tensor, double value)
    {
        using var scalar = value.ToScalar();
        return tensor.mul(scalar);
    }

    /// <summary><c>tensor · value</c> (integral).</summary>
    public static Tensor Times(this Tensor tensor, long value)
    {
        using var scalar = value.ToScalar();
        return tensor.mul(scalar);
    }

    /// <summary><c>tensor / value</c>.</summary>
    public static Tensor DividedBy(this Tensor tensor, double value)
    {
        using var scalar = value.ToScalar();
        return tensor.div(scalar);
    }

    /// <summary><c>tensor / value</c> (an integral divisor, as <c>tensor / count</c> passes it).</summary>
    public static Tensor DividedBy(this Tensor tensor, long value)
    {
        using var scalar = value.ToScalar();
        return tensor.div(scalar);
    }

    /// <summary><c>value − tensor</c>.</summary>
    public static Tensor SubtractedFrom(this Tensor tensor, double value)
    {
        using var scalar = value.ToScalar();
        return tensor.neg().add_(scalar, One);
    }

    /// <summary><c>tensor &gt; value</c>, element-wise.</summary>
    public static Tensor GreaterThan(this Tensor tensor, double value)
    {
        using var scalar = value.ToScalar();
        return tensor.gt(scalar);
    }

    /// <summary><c>max(tensor, min)</c>, element-wise.</summary>
    public static Tensor AtLeast(this Tensor tensor, double min)
    {
        using var scalar = min.ToScalar();
        return tensor.clamp_min(scalar);
    }

    /// <summary><c>clamp(tensor, min, max)</c> in place.</summary>
    public static Tensor ClampInPlace(this Tensor tensor, double min, double max)
    {
        using var low = min.ToScalar();
        using var high = max.ToScalar();
        return tensor.clamp_(low, high);
    }

    /// <summary><c>value</c> where <paramref name="mask"/> is true, <paramref name="tensor"/> elsewhere.</summary>
    public static Tensor FilledWhere(this Tensor tensor, Tensor mask, double value)
    {
        using var scalar = value.ToScalar();
        return tensor.masked_fill(mask, scalar);
    }
}
