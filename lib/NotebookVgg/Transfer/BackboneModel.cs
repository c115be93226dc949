using NotebookVgg.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NotebookVgg.Transfer;

/// <summary>A network run by its backbone (<see cref="Backbone.Forward"/>: in the backbone's precision); state dict unchanged.</summary>
internal sealed class BackboneModel : nn.Module<Tensor, Tensor>
{
    private readonly Backbone _backbone;
    private readonly Vgg _model;

    public BackboneModel(Backbone backbone, Vgg model) : base("precision")
    {
        _backbone = backbone;
        _model = model;
        register_module("model", model);
    }

    public override Tensor forward(Tensor input) => _backbone.Forward(_model, input);

    // The checkpoint holds the wrapped model's own keys, so evaluation can load it into a plain VGG.
    public override Dictionary<string, Tensor> state_dict(Dictionary<string, Tensor>? destination = null, string? prefix = null) =>
        _model.state_dict(destination, prefix);

    public override (IList<string> missing_keys, IList<string> unexpected_keyes) load_state_dict(
        Dictionary<string, Tensor> source, bool strict = true, IList<string>? skip = null) =>
        _model.load_state_dict(source, strict, skip);
}
