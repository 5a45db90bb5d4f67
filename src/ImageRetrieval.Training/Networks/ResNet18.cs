using ImageRetrieval.Training.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Networks;

/// <summary>
/// ResNet's basic residual block (two 3×3 conv-BN, identity or 1×1 conv-BN shortcut, ReLU after the
/// sum), with TorchVision's field names so saved weights read <c>layer1.0.conv1.weight</c> etc.
/// The ONNX exporter maps it to Conv / BatchNormalization / Relu / Add.
/// </summary>
internal sealed class ResidualBlock : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly SafeBatchNorm2d bn1;
    private readonly ReLU relu;
    private readonly Conv2d conv2;
    private readonly SafeBatchNorm2d bn2;
    private readonly Sequential? downsample;

    public ResidualBlock(long inChannels, long outChannels, long stride) : base(nameof(ResidualBlock))
    {
        conv1 = nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false);
        bn1 = new SafeBatchNorm2d(outChannels);
        relu = nn.ReLU();
        conv2 = nn.Conv2d(outChannels, outChannels, 3, stride: 1, padding: 1, bias: false);
        bn2 = new SafeBatchNorm2d(outChannels);
        if (stride != 1 || inChannels != outChannels)
        {
            downsample = nn.Sequential(
                ("0", nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false)),
                ("1", new SafeBatchNorm2d(outChannels)));
        }
        RegisterComponents();
    }

    public Conv2d Conv1 => conv1;

    public SafeBatchNorm2d Bn1 => bn1;

    public Conv2d Conv2 => conv2;

    public SafeBatchNorm2d Bn2 => bn2;

    /// <summary>The 1×1 conv + BN shortcut, or null for the identity shortcut.</summary>
    public Sequential? Downsample => downsample;

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var x = relu.forward(bn1.forward(conv1.forward(input)));
        x = bn2.forward(conv2.forward(x));
        var identity = downsample is null ? input : downsample.forward(input);
        return relu.forward(x.Plus(identity)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Builds the ResNet-18 feature extractor (TorchVision module layout and names, ML.NET/CNTK block counts —
/// see <see cref="BlocksPerStage"/>) followed by the embedding head:
/// <c>conv1 bn1 relu maxpool layer1..layer4 avgpool flatten fc</c>, where <c>fc</c> projects 512 → D.
/// </summary>
internal static class ResNet18
{
    /// <summary>Width of the pooled backbone features.</summary>
    public const int FeatureWidth = 512;

    /// <summary>Names of the four residual stages inside <c>features</c>, shallow to deep.</summary>
    public static IReadOnlyList<string> StageNames { get; } = ["layer1", "layer2", "layer3", "layer4"];

    /// <summary>
    /// Residual blocks per stage. TorchVision's resnet18 has [2, 2, 2, 2]; the only ImageNet ResNet-18 weights
    /// available offline — ML.NET's CNTK <c>ResNet18.onnx</c> — have a third block in the last stage
    /// (22 convolutions, 9 residual additions). The network follows the weights so the import is exact.
    /// </summary>
    public static IReadOnlyList<int> BlocksPerStage { get; } = [2, 2, 2, 3];

    /// <summary>Name of the embedding head inside <c>features</c>.</summary>
    public const string HeadName = "fc";

    public static Sequential BuildFeatures(NetworkSpec spec)
    {
        if (spec.Channels != 3)
        {
            throw new ArgumentException($"resnet18 takes 3-channel (RGB) input, got {spec.Channels} channel(s).", nameof(spec));
        }
        if (spec.Height < 32 || spec.Width < 32)
        {
            throw new ArgumentException($"resnet18 needs inputs of at least 32x32, got {spec.Height}x{spec.Width}.", nameof(spec));
        }
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("conv1", nn.Conv2d(3, 64, 7, stride: 2, padding: 3, bias: false)),
            ("bn1", new SafeBatchNorm2d(64)),
            ("relu", nn.ReLU()),
            ("maxpool", nn.MaxPool2d(3, stride: 2, padding: 1)),
        };
        long inChannels = 64;
        long[] widths = [64, 128, 256, 512];
        for (int stage = 0; stage < widths.Length; stage++)
        {
            long stride = stage == 0 ? 1 : 2;
            var blocks = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (int block = 0; block < BlocksPerStage[stage]; block++)
            {
                blocks.Add((block.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    new ResidualBlock(block == 0 ? inChannels : widths[stage], widths[stage], block == 0 ? stride : 1)));
            }
            layers.Add((StageNames[stage], nn.Sequential(blocks)));
            inChannels = widths[stage];
        }
        layers.Add(("avgpool", nn.AdaptiveAvgPool2d(1)));
        layers.Add(("flatten", nn.Flatten()));
        layers.Add((HeadName, nn.Linear(FeatureWidth, spec.EmbeddingDimension)));
        return nn.Sequential(layers);
    }
}
