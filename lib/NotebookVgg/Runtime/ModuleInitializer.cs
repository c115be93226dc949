using System.Runtime.CompilerServices;

namespace NotebookVgg.Runtime;

internal static class ModuleInitializer
{
    // Runs before any NotebookVgg type is touched, so every consumer (CLI, tests, notebooks, runner)
    // gets a loadable TorchSharp without a call of its own. Cheap when the fix is already in place.
#pragma warning disable CA2255 // deliberate: see above
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize() => NativeRuntime.EnsureReady();
}
