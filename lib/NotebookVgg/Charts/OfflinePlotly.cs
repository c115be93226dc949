using System.Text;
using Plotly.NET;

namespace NotebookVgg.Charts;

/// <summary>
/// plotly.js as Plotly.NET.dll carries it (an embedded resource), so HTML reports draw charts offline: the nvgg run
/// report and a notebook exported as an app both embed <see cref="Script"/>.
/// </summary>
internal static class OfflinePlotly
{
    private static readonly Lazy<string> Cached = new(Load);

    // Plotly.NET's notebook output asks require.js (from a CDN) for plotly; this stand-in hands it the embedded one.
    private const string OfflineRequire = """
        (function () {
          function offlineRequire(deps, callback) {
            var modules = [].concat(deps).map(function (d) { return /plotly/i.test(d) ? window.Plotly : undefined; });
            if (typeof callback === "function") callback.apply(window, modules);
          }
          offlineRequire.config = function () { return offlineRequire; };
          window.requirejs = offlineRequire;
          window.require = offlineRequire;
        })();
        """;

    /// <summary>plotly.js itself.</summary>
    public static string Source => Cached.Value;

    /// <summary>The plotly.js version, from the resource name (e.g. 2.28.0).</summary>
    public static string Version => ResourceName()["Plotly.NET.plotly-".Length..^".min.js".Length];

    /// <summary>What goes inside one &lt;script&gt; element: plotly.js, safe to embed, then the require.js stand-in.</summary>
    public static string Script => EscapeForScriptElement(Source) + "\n" + OfflineRequire;

    /// <summary>A script element ends at the first "&lt;/script"; inside embedded code that sequence must not occur.</summary>
    public static string EscapeForScriptElement(string code) => code.Replace("</script", "<\\/script", StringComparison.OrdinalIgnoreCase);

    private static string ResourceName()
    {
        var assembly = typeof(GenericChart).Assembly;
        return assembly.GetManifestResourceNames().SingleOrDefault(n => n.StartsWith("Plotly.NET.plotly-", StringComparison.Ordinal) && n.EndsWith(".min.js", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"plotly.js is not embedded in {assembly.Location}; cannot draw charts offline");
    }

    private static string Load()
    {
        var assembly = typeof(GenericChart).Assembly;
        using var stream = assembly.GetManifestResourceStream(ResourceName())!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
