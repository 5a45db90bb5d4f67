namespace ImageRetrieval.Training.Mining;

/// <summary>How the triplets of a training batch are chosen (<see cref="TrainingOptions.Miner"/>).</summary>
public enum TripletMiningStrategy
{
    /// <summary>
    /// The classic recipe's random triplets over the whole dataset (<see cref="RandomTripletSampler"/>): each
    /// image is an anchor once per epoch, with a random other image of its class and a random image of a
    /// random other class; batches of P×K triplets (3·P·K images).
    /// </summary>
    Random,

    /// <summary>Per anchor, one random positive and one random negative of the same P×K batch (<see cref="RandomInBatchMiner"/>).</summary>
    RandomInBatch,

    /// <summary>Per anchor, its farthest positive and closest negative (Hermans et al., 2017).</summary>
    BatchHard,

    /// <summary>Every valid triplet that violates the margin (pytorch-metric-learning's TripletMarginMiner "all").</summary>
    BatchAll,

    /// <summary>Per anchor–positive pair, the closest negative farther than the positive (FaceNet); if none, the farthest negative.</summary>
    SemiHard,
}
