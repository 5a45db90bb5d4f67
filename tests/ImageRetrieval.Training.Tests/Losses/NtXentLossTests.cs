using TorchSharp;

namespace ImageRetrieval.Training.Tests.Losses;

[Collection(TorchCollection.Name)]
public class NtXentLossTests
{
    [Fact]
    public void NT_Xent_is_the_cross_entropy_of_each_view_against_the_other_view_of_its_image()
    {
        using var scope = torch.NewDisposeScope();
        // Two images, two views each, as unit vectors at angles: rows 0,1 are first views, rows 2,3 second views.
        double[] angles = [0, 1.2, 0.3, 1.0];
        float[,] e = new float[4, 2];
        for (int i = 0; i < 4; i++)
        {
            e[i, 0] = (float)Math.Cos(angles[i]);
            e[i, 1] = (float)Math.Sin(angles[i]);
        }
        const double temperature = 0.5;

        float loss = InstanceViews.NtXentLoss(torch.tensor(e), temperature).item<float>();

        // Reference by hand: view i's target is (i + 2) mod 4; candidates are every view but itself.
        double expected = 0;
        for (int i = 0; i < 4; i++)
        {
            double Logit(int j) => Math.Cos(angles[i] - angles[j]) / temperature;
            double denominator = Enumerable.Range(0, 4).Where(j => j != i).Sum(j => Math.Exp(Logit(j)));
            expected += -Math.Log(Math.Exp(Logit((i + 2) % 4)) / denominator);
        }
        Assert.Equal(expected / 4, loss, 4);
    }

    [Fact]
    public void NT_Xent_is_smaller_when_the_two_views_agree_than_when_they_are_swapped()
    {
        using var scope = torch.NewDisposeScope();
        var aligned = torch.tensor(new float[,] { { 1, 0 }, { 0, 1 }, { 1, 0 }, { 0, 1 } });
        var swapped = torch.tensor(new float[,] { { 1, 0 }, { 0, 1 }, { 0, 1 }, { 1, 0 } });

        Assert.True(InstanceViews.NtXentLoss(aligned, 0.1).item<float>() < InstanceViews.NtXentLoss(swapped, 0.1).item<float>());
    }
}
