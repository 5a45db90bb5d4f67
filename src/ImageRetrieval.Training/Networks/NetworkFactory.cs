using ImageRetrieval.Training.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ImageRetrieval.Training.Networks;

/// <summary>Builds the embedding architectures the trainer and the ONNX exporter know.</summary>
public static class NetworkFactory
{
    /// <summary>The classic recipe's network: two 5×5 conv + PReLU + max-pool stages, three fully connected layers.</summary>
    public const string Classic = "classic";

    /// <summary>The default for small images: conv-BN-ReLU stages, global average pooling, a linear projection.</summary>
    public const string ConvNet = "convnet";

    /// <summary>
    /// ResNet-18 (3-channel input of at least 32×32) with a linear 512 → D head; TorchVision's module
    /// names, but the block counts of ML.NET's CNTK ResNet18.onnx ([2, 2, 2, 3]) whose ImageNet weights
    /// <see cref="ResNet18Weights.ImportImageNet"/> imports.
    /// </summary>
    public const string ResNet18 = "resnet18";

    /// <summary>Architecture names accepted by <see cref="Create"/>.</summary>
    public static IReadOnlyList<string> Architectures { get; } = [Classic, ConvNet, ResNet18];

    /// <summary>Builds a randomly initialised network (seed with <c>torch.random.manual_seed</c> first for reproducible weights).</summary>
    /// <exception cref="ArgumentException">The spec is invalid or the input is too small for the architecture.</exception>
    public static EmbeddingNetwork Create(NetworkSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        TorchRuntime.Initialize();
        Sequential features = spec.Architecture switch
        {
            Classic => BuildClassic(spec),
            ConvNet => BuildConvNet(spec),
            ResNet18 => Networks.ResNet18.BuildFeatures(spec),
            _ => throw new ArgumentException($"Unknown architecture '{spec.Architecture}'.", nameof(spec)),
        };
        return new EmbeddingNetwork(spec, features);
    }

    /// <summary>
    /// The length of the output of a network built from <paramref name="spec"/>: its embedding dimension, or with
    /// <see cref="NetworkSpec.EmbeddingLayers"/> the summed sizes of those layers' outputs (found by building the network,
    /// with torch's random state restored afterwards).
    /// </summary>
    /// <exception cref="ArgumentException">The spec is invalid.</exception>
    public static int OutputDimension(NetworkSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!spec.EmbedsLayers)
        {
            spec.Validate();
            return spec.EmbeddingDimension;
        }
        TorchRuntime.Initialize();
        using var state = torch.random.get_rng_state();
        try
        {
            using var network = Create(spec);
            return network.OutputDimension;
        }
        finally
        {
            torch.random.set_rng_state(state);
        }
    }

    // conv(C→32, 5×5) + PReLU + maxpool 2, conv(32→64, 5×5) + PReLU + maxpool 2,
    // FC (64·h·w)→256 + PReLU, FC 256→256 + PReLU, FC 256→D. For 28×28 input, 64·4·4 = 1024.
    private static Sequential BuildClassic(NetworkSpec spec)
    {
        int h = ((spec.Height - 4) / 2 - 4) / 2;
        int w = ((spec.Width - 4) / 2 - 4) / 2;
        if (h < 1 || w < 1)
        {
            throw new ArgumentException($"The classic network needs inputs of at least 16x16, got {spec.Height}x{spec.Width}.", nameof(spec));
        }
        return nn.Sequential(
            ("conv1", nn.Conv2d(spec.Channels, 32, 5)),
            ("prelu1", nn.PReLU(1)),
            ("pool1", new ChannelsLastMaxPool2d(2)),
            ("conv2", nn.Conv2d(32, 64, 5)),
            ("prelu2", nn.PReLU(1)),
            ("pool2", new ChannelsLastMaxPool2d(2)),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(64L * h * w, 256)),
            ("prelu3", nn.PReLU(1)),
            ("fc2", nn.Linear(256, 256)),
            ("prelu4", nn.PReLU(1)),
            ("fc3", nn.Linear(256, spec.EmbeddingDimension)));
    }

    // Three conv-BN-ReLU stages (32, 64, 128 channels; two 3×3 convs each; max-pool between stages),
    // global average pooling, then a linear projection to D.
    private static Sequential BuildConvNet(NetworkSpec spec)
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        int inChannels = spec.Channels;
        int[] widths = [32, 64, 128];
        for (int stage = 0; stage < widths.Length; stage++)
        {
            for (int conv = 0; conv < 2; conv++)
            {
                string name = $"s{stage + 1}c{conv + 1}";
                layers.Add((name, nn.Conv2d(inChannels, widths[stage], 3, padding: 1, bias: false)));
                layers.Add((name + "bn", new SafeBatchNorm2d(widths[stage])));
                layers.Add((name + "relu", nn.ReLU()));
                inChannels = widths[stage];
            }
            if (stage < widths.Length - 1)
            {
                layers.Add(($"pool{stage + 1}", new ChannelsLastMaxPool2d(2)));
            }
        }
        layers.Add(("gap", nn.AdaptiveAvgPool2d(1)));
        layers.Add(("flatten", nn.Flatten()));
        layers.Add(("fc", nn.Linear(inChannels, spec.EmbeddingDimension)));
        return nn.Sequential(layers);
    }
}
