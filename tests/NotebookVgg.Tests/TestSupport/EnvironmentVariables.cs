namespace NotebookVgg.Tests.TestSupport;

/// <summary>Sets environment variables for one test and restores the previous values on dispose (tests using it run alone).</summary>
public sealed class EnvironmentVariables : IDisposable
{
    private readonly List<(string Name, string? Old)> _saved = [];

    public EnvironmentVariables(params (string Name, string? Value)[] variables)
    {
        foreach (var (name, value) in variables)
        {
            _saved.Add((name, Environment.GetEnvironmentVariable(name)));
            Environment.SetEnvironmentVariable(name, value);
        }
    }

    public void Dispose()
    {
        foreach (var (name, old) in _saved)
            Environment.SetEnvironmentVariable(name, old);
    }
}
