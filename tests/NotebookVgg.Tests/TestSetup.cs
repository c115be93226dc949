using System.Runtime.CompilerServices;
using NotebookVgg.Runtime;

namespace NotebookVgg.Tests;

internal static class TestSetup
{
    // Tests may touch TorchSharp before any NotebookVgg type; make the native runtime ready first.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize() => NativeRuntime.EnsureReady();
}
