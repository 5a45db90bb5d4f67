using ImageRetrieval.Training;

namespace ImageRetrieval.Training.Tests;

public sealed class LearningRateScheduleTests
{
    [Fact]
    public void Step_schedule_decays_every_step_epochs_and_ignores_progress()
    {
        var options = new TrainingOptions { LearningRate = 1e-3, Schedule = LearningRateSchedule.Step, LearningRateStepEpochs = 4, LearningRateDecay = 0.5 };
        Assert.Equal(1e-3, options.LearningRateAt(3, 0.9), 12);
        Assert.Equal(5e-4, options.LearningRateAt(4, 0.0), 12);
        Assert.Equal(2.5e-4, options.LearningRateAt(9, 0.5), 12);
    }

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(0.5, 0.505)]        // 0.01 + 0.99 · ½ (1 + cos ½π)
    [InlineData(1.0, 0.01)]
    [InlineData(1.7, 0.01)]         // past the end of the budget: stays at the floor
    [InlineData(0.25, 0.01 + 0.99 * 0.5 * 1.7071067811865475)]
    public void Cosine_schedule_falls_from_the_rate_to_one_percent(double progress, double fraction)
    {
        var options = new TrainingOptions { LearningRate = 2e-3, Schedule = LearningRateSchedule.Cosine };
        Assert.Equal(2e-3 * fraction, options.LearningRateAt(0, progress), 12);
    }

    [Fact]
    public void Cosine_schedule_never_rises()
    {
        var options = new TrainingOptions { LearningRate = 1e-3, Schedule = LearningRateSchedule.Cosine };
        double previous = double.MaxValue;
        for (int i = 0; i <= 1000; i++)
        {
            double lr = options.LearningRateAt(0, i / 1000.0);
            Assert.True(lr <= previous);
            previous = lr;
        }
    }
}
