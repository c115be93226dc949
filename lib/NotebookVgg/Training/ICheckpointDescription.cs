using System.Text.Json.Nodes;

namespace NotebookVgg.Training;

/// <summary>
/// What a checkpoint says about its model besides the tensors (transfer learning's <c>ModelDescription</c>: the backbone,
/// the mode, the classes). The <see cref="Trainer"/> stores it in the checkpoint and, on resume, has the run's description
/// compare itself with the stored one, knowing none of their fields.
/// </summary>
public interface ICheckpointDescription
{
    /// <summary>This description as the checkpoint stores it (<c>state.json</c>'s <c>model</c>).</summary>
    JsonObject ToJson();

    /// <summary>
    /// Compares the description a checkpoint stored (<paramref name="stored"/>, written beside <paramref name="storedOptions"/>)
    /// with this one, as values: null when they describe the same model, else the first setting that differs and its value
    /// in each, in words ("feature cut", "Fc7", "Pool5").
    /// </summary>
    (string Setting, string Stored, string Now)? DifferenceFrom(JsonObject stored, TrainingOptions storedOptions);
}
