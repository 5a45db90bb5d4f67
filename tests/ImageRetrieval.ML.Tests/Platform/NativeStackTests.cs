using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SkiaSharp;

namespace ImageRetrieval.ML.Tests.Platform;

/// <summary>Proves the native stacks the search side needs load and compute on this machine.</summary>
public class NativeStackTests
{
    [Fact]
    public void OnnxRuntime_creates_a_session_and_runs_a_tiny_model()
    {
        byte[] model = TinyOnnxModel.FlattenGemmL2(1, 4, 4, 3, seed: 3);
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);

        Assert.Equal([-1, 1, 4, 4], session.InputMetadata["input"].Dimensions);
        var input = new DenseTensor<float>(Enumerable.Range(0, 32).Select(i => (float)i).ToArray(), [2, 1, 4, 4]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", input)]);
        float[] output = results.Single().AsEnumerable<float>().ToArray();

        Assert.Equal(6, output.Length);
        for (int row = 0; row < 2; row++)
        {
            double norm = Math.Sqrt(output.Skip(row * 3).Take(3).Sum(v => (double)v * v));
            Assert.Equal(1.0, norm, 5);
        }
        Assert.Contains("CPUExecutionProvider", OrtEnv.Instance().GetAvailableProviders());
    }

    [Fact]
    public void The_CPU_build_of_ONNX_Runtime_is_loaded_and_a_GPU_request_falls_back_instead_of_failing()
    {
        // The runtime package ships Microsoft.ML.OnnxRuntime (CPU); an application opting into the GPU build gets CUDA.
        Assert.DoesNotContain("CUDAExecutionProvider", OrtEnv.Instance().GetAvailableProviders());
        // What ML.NET's ApplyOnnxModel(gpuDeviceId, fallbackToCpu: true) runs into with this build (PLATFORM.md): no CUDA
        // entry point. The library's probe turns it into a CPU fallback with the reason, for the embedder and the estimators.
        using (var options = new SessionOptions())
        {
            Assert.Throws<EntryPointNotFoundException>(() => options.AppendExecutionProvider_CUDA(0));
        }
        var provider = ImageRetrieval.ML.Embedding.ExecutionProviders.Resolve(0, fallbackToCpu: true);
        Assert.Equal("CPUExecutionProvider", provider.Name);
        Assert.StartsWith("EntryPointNotFoundException", provider.FallbackReason, StringComparison.Ordinal);
    }

    [Fact]
    public void MLNet_loads_resizes_and_extracts_pixels_of_a_real_png()
    {
        using var temp = new TempDirectory();
        string png = temp.File("gradient.png");
        using (var bitmap = new SKBitmap(40, 30, SKColorType.Rgba8888, SKAlphaType.Premul))
        {
            for (int y = 0; y < 30; y++)
            {
                for (int x = 0; x < 40; x++)
                {
                    bitmap.SetPixel(x, y, new SKColor((byte)(x * 6), (byte)(y * 8), 200));
                }
            }
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(png, data.ToArray());
        }

        var ml = new MLContext(seed: 1);
        var rows = ml.Data.LoadFromEnumerable([new ImagePath { Path = png }]);
        var pipeline = ml.Transforms.LoadImages("image", temp.Path, nameof(ImagePath.Path))
            .Append(ml.Transforms.ResizeImages("image", 8, 8))
            .Append(ml.Transforms.ExtractPixels("pixels", "image"));
        var transformed = pipeline.Fit(rows).Transform(rows);
        float[] pixels = transformed.GetColumn<VBuffer<float>>("pixels").Single().DenseValues().ToArray();

        Assert.Equal(3 * 8 * 8, pixels.Length);
        // Planar layout: the blue plane is constant 200, the red plane grows left to right.
        Assert.All(pixels.Skip(128).Take(64), b => Assert.Equal(200f, b, 0.5f));
        Assert.True(pixels[7] > pixels[0] + 100, "red should grow across the row");
    }

    private sealed class ImagePath
    {
        public string Path { get; set; } = "";
    }
}
