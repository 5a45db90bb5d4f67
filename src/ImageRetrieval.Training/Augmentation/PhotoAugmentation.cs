using ImageRetrieval.Datasets;
using ImageRetrieval.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Augmentation;

/// <summary>Settings of <see cref="PhotoAugmentation"/>. The defaults follow torchvision's ImageNet recipe with light colour jitter.</summary>
public sealed record PhotoAugmentationOptions
{
    /// <summary>Output side <c>S</c> in pixels: 224 for the real thing, smaller (e.g. 64) for CPU experiments.</summary>
    public int OutputSize { get; init; } = 224;

    /// <summary>Smallest crop area as a fraction of the image (torchvision: 0.08).</summary>
    public double MinScale { get; init; } = 0.08;

    /// <summary>Largest crop area as a fraction of the image (torchvision: 1.0).</summary>
    public double MaxScale { get; init; } = 1.0;

    /// <summary>Smallest crop aspect ratio, width / height (torchvision: 3/4).</summary>
    public double MinAspectRatio { get; init; } = 3.0 / 4.0;

    /// <summary>Largest crop aspect ratio, width / height (torchvision: 4/3).</summary>
    public double MaxAspectRatio { get; init; } = 4.0 / 3.0;

    /// <summary>Probability of a horizontal flip (default 0.5).</summary>
    public double FlipProbability { get; init; } = 0.5;

    /// <summary>Brightness jitter: the factor is drawn from <c>[1 - b, 1 + b]</c> (default 0.2; 0 disables).</summary>
    public double Brightness { get; init; } = 0.2;

    /// <summary>Contrast jitter, blending with the mean grey level (default 0.2; 0 disables).</summary>
    public double Contrast { get; init; } = 0.2;

    /// <summary>Saturation jitter, blending with the per-pixel grey level (default 0.2; 0 disables).</summary>
    public double Saturation { get; init; } = 0.2;

    /// <summary>Evaluation resizes the shorter side to <c>OutputSize × EvalResizeRatio</c> and crops the centre (default 256/224, as torchvision).</summary>
    public double EvalResizeRatio { get; init; } = 256.0 / 224.0;

    /// <summary>
    /// The side to store training images at so random crops keep detail: <c>OutputSize × EvalResizeRatio</c>
    /// (256 for 224, 73 for 64), the size torchvision's evaluation resizes to before its centre crop.
    /// </summary>
    public int StorageSize() => Math.Max(OutputSize, (int)Math.Round(OutputSize * EvalResizeRatio));

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (OutputSize is < 1 or > 4096)
        {
            throw new ArgumentException($"OutputSize {OutputSize} is outside 1..4096.");
        }
        if (!(MinScale > 0 && MinScale <= MaxScale && MaxScale <= 1))
        {
            throw new ArgumentException($"Scale range [{MinScale}, {MaxScale}] must satisfy 0 < min <= max <= 1.");
        }
        if (!(MinAspectRatio > 0 && MinAspectRatio <= MaxAspectRatio && double.IsFinite(MaxAspectRatio)))
        {
            throw new ArgumentException($"Aspect-ratio range [{MinAspectRatio}, {MaxAspectRatio}] must satisfy 0 < min <= max.");
        }
        if (!(FlipProbability is >= 0 and <= 1))
        {
            throw new ArgumentException($"FlipProbability {FlipProbability} is outside 0..1.");
        }
        if (!(Brightness is >= 0 and <= 1) || !(Contrast is >= 0 and <= 1) || !(Saturation is >= 0 and <= 1))
        {
            throw new ArgumentException($"Jitter strengths (brightness {Brightness}, contrast {Contrast}, saturation {Saturation}) must be in 0..1.");
        }
        if (!(EvalResizeRatio >= 1 && double.IsFinite(EvalResizeRatio)))
        {
            throw new ArgumentException($"EvalResizeRatio {EvalResizeRatio} must be at least 1.");
        }
    }
}

/// <summary>A crop rectangle in pixels: rows <c>Top .. Top + Height - 1</c>, columns <c>Left .. Left + Width - 1</c>.</summary>
/// <param name="Top">First row.</param>
/// <param name="Left">First column.</param>
/// <param name="Height">Rows.</param>
/// <param name="Width">Columns.</param>
public readonly record struct CropBox(int Top, int Left, int Height, int Width);

/// <summary>
/// Training-time augmentation for photographs, applied per batch: random resized crop, horizontal flip
/// and light colour jitter (brightness, contrast, saturation, in random order), producing
/// <c>[N, C, S, S]</c> float32 tensors of 0–255 values. Every random choice comes from the
/// <see cref="Random"/> passed in, so a seeded run is reproducible. <see cref="ApplyEval"/> is the
/// deterministic counterpart (resize, centre crop).
/// </summary>
/// <remarks>
/// Inputs are <c>[N, C, H, W]</c> tensors of 0–255 values, float or uint8 (e.g. photos stored at 256×256
/// by <c>Oxford102Flowers.Load</c>), with C = 3 (RGB) or 1 (grey; saturation then does nothing). Crops
/// are resized bilinearly with anti-aliasing.
/// </remarks>
public sealed class PhotoAugmentation
{
    /// <summary>Creates the augmentation.</summary>
    /// <param name="options">Settings; the defaults when <see langword="null"/>.</param>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public PhotoAugmentation(PhotoAugmentationOptions? options = null)
    {
        Options = options ?? new PhotoAugmentationOptions();
        Options.Validate();
    }

    /// <summary>The settings.</summary>
    public PhotoAugmentationOptions Options { get; }

    /// <summary>Augments a batch for training.</summary>
    /// <param name="batch"><c>[N, C, H, W]</c>, values 0–255, float or uint8; not modified.</param>
    /// <param name="random">The source of every random choice (crop, flip, jitter factors and order).</param>
    /// <returns>A new <c>[N, C, S, S]</c> float32 tensor of 0–255 values on the batch's device.</returns>
    /// <exception cref="ArgumentException">The batch is not a 4-D tensor with 1 or 3 channels.</exception>
    public Tensor Apply(Tensor batch, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        CheckBatch(batch);
        int n = (int)batch.shape[0], height = (int)batch.shape[2], width = (int)batch.shape[3];
        int s = Options.OutputSize;
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        Tensor input = batch.to_type(ScalarType.Float32);
        var outputs = new Tensor[n];
        for (int i = 0; i < n; i++)
        {
            CropBox box = SampleCrop(height, width, random);
            Tensor image = input[i].narrow(1, box.Top, box.Height).narrow(2, box.Left, box.Width).unsqueeze(0);
            image = Resize(image, s, s);
            if (random.NextDouble() < Options.FlipProbability)
            {
                image = image.flip(3);
            }
            outputs[i] = Jitter(image, random);
        }
        Tensor result = torch.cat(outputs, 0).ClampInPlace(0, 255);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>The evaluation transform: resize the shorter side to <c>S × EvalResizeRatio</c> (keeping the aspect ratio), then crop the centre <c>S × S</c>.</summary>
    /// <param name="batch"><c>[N, C, H, W]</c>, values 0–255, float or uint8; not modified.</param>
    /// <returns>A new <c>[N, C, S, S]</c> float32 tensor of 0–255 values.</returns>
    /// <exception cref="ArgumentException">The batch is not a 4-D tensor with 1 or 3 channels.</exception>
    public Tensor ApplyEval(Tensor batch)
    {
        CheckBatch(batch);
        int height = (int)batch.shape[2], width = (int)batch.shape[3];
        int s = Options.OutputSize;
        int shorter = Math.Max(s, (int)Math.Round(s * Options.EvalResizeRatio));
        int newHeight, newWidth;
        if (height <= width)
        {
            newHeight = shorter;
            newWidth = Math.Max(s, (int)Math.Round((double)width * shorter / height));
        }
        else
        {
            newWidth = shorter;
            newHeight = Math.Max(s, (int)Math.Round((double)height * shorter / width));
        }
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        Tensor resized = Resize(batch.to_type(ScalarType.Float32), newHeight, newWidth);
        int top = (newHeight - s) / 2, left = (newWidth - s) / 2;
        Tensor result = resized.narrow(2, top, s).narrow(3, left, s).contiguous().ClampInPlace(0, 255);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Draws a random-resized-crop rectangle exactly as torchvision's <c>RandomResizedCrop.get_params</c>:
    /// up to 10 attempts at an area fraction in the scale range and a log-uniform aspect ratio, then a
    /// centre crop clamped to the ratio range.
    /// </summary>
    public CropBox SampleCrop(int height, int width, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentNullException.ThrowIfNull(random);
        double area = (double)height * width;
        double logMin = Math.Log(Options.MinAspectRatio), logMax = Math.Log(Options.MaxAspectRatio);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (Options.MinScale + (random.NextDouble() * (Options.MaxScale - Options.MinScale)));
            double ratio = Math.Exp(logMin + (random.NextDouble() * (logMax - logMin)));
            int w = (int)Math.Round(Math.Sqrt(target * ratio));
            int h = (int)Math.Round(Math.Sqrt(target / ratio));
            if (w > 0 && w <= width && h > 0 && h <= height)
            {
                return new CropBox(random.Next(height - h + 1), random.Next(width - w + 1), h, w);
            }
        }
        double inRatio = (double)width / height;
        int cw, ch;
        if (inRatio < Options.MinAspectRatio)
        {
            cw = width;
            ch = Math.Clamp((int)Math.Round(cw / Options.MinAspectRatio), 1, height);
        }
        else if (inRatio > Options.MaxAspectRatio)
        {
            ch = height;
            cw = Math.Clamp((int)Math.Round(ch * Options.MaxAspectRatio), 1, width);
        }
        else
        {
            cw = width;
            ch = height;
        }
        return new CropBox((height - ch) / 2, (width - cw) / 2, ch, cw);
    }

    /// <summary>
    /// Copies images of a <see cref="LabeledImageSet"/> into a <c>[N, C, H, W]</c> uint8 tensor, the input
    /// <see cref="Apply"/> and <see cref="ApplyEval"/> expect.
    /// </summary>
    public static Tensor ToTensor(LabeledImageSet set, ReadOnlySpan<int> indices)
    {
        ArgumentNullException.ThrowIfNull(set);
        int size = set.ImageSize;
        var bytes = new byte[(long)indices.Length * size];
        for (int i = 0; i < indices.Length; i++)
        {
            set.GetImage(indices[i]).CopyTo(bytes.AsSpan(i * size, size));
        }
        return torch.tensor(bytes, [indices.Length, set.Channels, set.Height, set.Width]);
    }

    private Tensor Jitter(Tensor image, Random random)
    {
        // torchvision's ColorJitter applies its enabled adjustments in a random order.
        Span<int> order = [0, 1, 2];
        for (int i = 2; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        foreach (int which in order)
        {
            double strength = which switch { 0 => Options.Brightness, 1 => Options.Contrast, _ => Options.Saturation };
            if (strength <= 0)
            {
                continue;
            }
            double factor = Math.Max(0, 1 - strength) + (random.NextDouble() * 2 * strength);
            image = which switch
            {
                0 => image.Times(factor).ClampInPlace(0, 255),
                1 => Blend(image, Grey(image).mean(), factor),
                _ => image.shape[1] == 3 ? Blend(image, Grey(image), factor) : image,
            };
        }
        return image;
    }

    // image * factor + other * (1 - factor), clamped: torchvision's _blend.
    private static Tensor Blend(Tensor image, Tensor other, double factor) =>
        image.Times(factor).Plus(other.Times(1 - factor)).ClampInPlace(0, 255);

    // ITU-R 601 luma, as torchvision's rgb_to_grayscale: [1, 1, H, W].
    private static Tensor Grey(Tensor image) =>
        image.shape[1] == 3
            ? image[.., 0..1].Times(0.299f).Plus(image[.., 1..2].Times(0.587f)).Plus(image[.., 2..3].Times(0.114f))
            : image;

    private static Tensor Resize(Tensor image, int height, int width)
    {
        if (image.shape[2] == height && image.shape[3] == width)
        {
            return image;
        }
        return torch.nn.functional.interpolate(image, [height, width], mode: InterpolationMode.Bilinear, align_corners: false, antialias: true);
    }

    private static void CheckBatch(Tensor batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.dim() != 4 || batch.shape[1] is not (1 or 3) || batch.shape[0] < 1 || batch.shape[2] < 1 || batch.shape[3] < 1)
        {
            throw new ArgumentException($"Expected a [N, C, H, W] batch with N >= 1 and C = 1 or 3, got [{string.Join(", ", batch.shape)}].", nameof(batch));
        }
    }
}
