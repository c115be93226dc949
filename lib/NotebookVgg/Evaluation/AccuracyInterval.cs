namespace NotebookVgg.Evaluation;

/// <summary>
/// An accuracy measured on <see cref="Count"/> images and its 95 % interval: Wilson's score interval (Wilson 1927), which
/// stays within 0–100 % and is not zero-wide at 0 or 100 %, unlike the textbook p ± 1.96·√(p(1 − p)/n).
/// </summary>
public readonly record struct AccuracyInterval(double Accuracy, double Low, double High, long Count)
{
    private const double Z95 = 1.959963984540054;

    /// <summary>Wilson's 95 % score interval of <paramref name="accuracy"/> (a fraction) measured on <paramref name="count"/> images.</summary>
    public static AccuracyInterval Wilson(double accuracy, long count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (!(accuracy >= 0 && accuracy <= 1))
            throw new ArgumentOutOfRangeException(nameof(accuracy), accuracy, "an accuracy is a fraction from 0 to 1");
        double n = count, z2 = Z95 * Z95;
        double centre = (accuracy + z2 / (2 * n)) / (1 + z2 / n);
        double half = Z95 * Math.Sqrt(accuracy * (1 - accuracy) / n + z2 / (4 * n * n)) / (1 + z2 / n);
        return new AccuracyInterval(accuracy, Math.Max(0, centre - half), Math.Min(1, centre + half), count);
    }

    /// <summary>
    /// The 95 % interval of <paramref name="a"/> minus <paramref name="b"/>, from their Wilson intervals (Newcombe 1998,
    /// method 10), as if the two were measured on independent images; an interval that holds 0 cannot tell them apart.
    /// </summary>
    public static (double Low, double High) Difference(AccuracyInterval a, AccuracyInterval b)
    {
        double d = a.Accuracy - b.Accuracy;
        return (d - Math.Sqrt(Square(a.Accuracy - a.Low) + Square(b.High - b.Accuracy)),
                d + Math.Sqrt(Square(a.High - a.Accuracy) + Square(b.Accuracy - b.Low)));

        static double Square(double x) => x * x;
    }

    /// <summary>True where the interval holds <paramref name="accuracy"/>.</summary>
    public bool Contains(double accuracy) => accuracy >= Low && accuracy <= High;

    /// <summary>e.g. "99.9 % (95 % interval 99.8–100.0 %)".</summary>
    public override string ToString() =>
        FormattableString.Invariant($"{Accuracy * 100:F1} % (95 % interval {Low * 100:F1}–{High * 100:F1} %)");
}
