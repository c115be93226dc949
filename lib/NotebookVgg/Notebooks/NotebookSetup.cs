using System.Globalization;
using System.Runtime.Loader;
using NotebookVgg.Runtime;

namespace NotebookVgg.Notebooks;

/// <summary>
/// Notebook parameters with environment overrides: <c>NotebookParameter.Get("epochs", 3)</c> is 3 unless
/// <c>NOTEBOOKVGG_EPOCHS</c> is set, so any client (VS Code, Jupyter, nvgg run, CI) can switch the suite to the smoke profile.
/// </summary>
public static class NotebookParameter
{
    /// <summary>The environment variable that overrides parameter <paramref name="name"/>: NOTEBOOKVGG_ and the name upper-cased.</summary>
    public static string VariableFor(string name) => "NOTEBOOKVGG_" + name.ToUpperInvariant();

    /// <summary>The variable's text when set and non-empty, else <paramref name="fallback"/>.</summary>
    public static string Get(string name, string fallback) => Environment.GetEnvironmentVariable(VariableFor(name)) is { Length: > 0 } v ? v : fallback;

    /// <summary>The variable parsed as an integer (invariant culture), else <paramref name="fallback"/>.</summary>
    /// <exception cref="ArgumentException">The variable is set but is not an integer.</exception>
    public static int Get(string name, int fallback) => Parse(name, fallback, s => int.Parse(s, CultureInfo.InvariantCulture));

    /// <summary>The variable parsed as a number (invariant culture: '.' for decimals), else <paramref name="fallback"/>.</summary>
    /// <exception cref="ArgumentException">The variable is set but is not a number.</exception>
    public static double Get(string name, double fallback) => Parse(name, fallback, s => double.Parse(s, CultureInfo.InvariantCulture));

    /// <summary>The variable parsed as true or false (any case), else <paramref name="fallback"/>.</summary>
    /// <exception cref="ArgumentException">The variable is set but is neither true nor false.</exception>
    public static bool Get(string name, bool fallback) => Parse(name, fallback, bool.Parse);

    private static T Parse<T>(string name, T fallback, Func<string, T> parse)
    {
        string? text = Environment.GetEnvironmentVariable(VariableFor(name));
        if (string.IsNullOrEmpty(text))
            return fallback;
        try
        {
            return parse(text.Trim());
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            throw new ArgumentException($"{VariableFor(name)}='{text}': not a valid {typeof(T).Name}");
        }
    }
}

/// <summary>What the first cells of every notebook do, in one call each.</summary>
public static class NotebookSetup
{
    private static int _resolverInstalled;

    /// <summary>
    /// Makes TorchSharp loadable, lets Plotly.NET find the FSharp.Core already loaded (the official .NET Interactive
    /// kernel ships an older one), seeds torch, and returns the environment report for display.
    /// </summary>
    public static EnvironmentReport Run(int seed = 0)
    {
        if (Interlocked.Exchange(ref _resolverInstalled, 1) == 0)
        {
            AssemblyLoadContext.Default.Resolving += (_, name) => name.Name == "FSharp.Core"
                ? AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == "FSharp.Core")
                : null;
        }
        NativeRuntime.ThrowIfNotReady();
        NativeAllocator.KeepFreedMemory(); // libtorch's big buffers reused instead of re-faulted: 2–3× faster on glibc
        TorchSharp.torch.random.manual_seed(seed);
        return EnvironmentReport.Collect();
    }
}
