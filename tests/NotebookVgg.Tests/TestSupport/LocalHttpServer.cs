using System.Net;
using System.Net.Sockets;

namespace NotebookVgg.Tests.TestSupport;

/// <summary>
/// An HTTP server on 127.0.0.1 for exercising real download code: serves byte arrays by path, honours
/// Range requests, and can misbehave on purpose (status codes, truncated bodies, stalls).
/// </summary>
public sealed class LocalHttpServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Dictionary<string, Func<HttpListenerContext, Task>> _routes = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public LocalHttpServer()
    {
        int port = FreePort();
        BaseUri = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(BaseUri.ToString());
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public Uri BaseUri { get; }

    /// <summary>How many requests were made per path (to prove a cached file caused none).</summary>
    public Dictionary<string, int> Requests { get; } = new(StringComparer.Ordinal);

    /// <summary>The Range header of every request, in order (null where none was sent): to prove a download resumed.</summary>
    public List<string?> Ranges { get; } = [];

    public Uri Url(string path) => new(BaseUri, path.TrimStart('/'));

    /// <summary>Serves <paramref name="body"/> at <paramref name="path"/>, with Range support.</summary>
    public void Serve(string path, byte[] body) => _routes["/" + path.TrimStart('/')] = async ctx =>
    {
        long start = 0;
        string? range = ctx.Request.Headers["Range"];
        if (range is not null && range.StartsWith("bytes=", StringComparison.Ordinal))
        {
            start = long.Parse(range["bytes=".Length..].TrimEnd('-').Split('-')[0], System.Globalization.CultureInfo.InvariantCulture);
            if (start >= body.Length)
            {
                ctx.Response.StatusCode = 416;
                ctx.Response.Close();
                return;
            }
            ctx.Response.StatusCode = 206;
            ctx.Response.AddHeader("Content-Range", $"bytes {start}-{body.Length - 1}/{body.Length}");
        }
        ctx.Response.ContentLength64 = body.Length - start;
        await ctx.Response.OutputStream.WriteAsync(body.AsMemory((int)start));
        ctx.Response.Close();
    };

    /// <summary>Serves <paramref name="body"/> chunked, without a Content-Length: the client learns its size only at the end.</summary>
    public void Chunked(string path, byte[] body) => _routes["/" + path.TrimStart('/')] = async ctx =>
    {
        ctx.Response.SendChunked = true;
        for (int offset = 0; offset < body.Length; offset += 64 * 1024)
            await ctx.Response.OutputStream.WriteAsync(body.AsMemory(offset, Math.Min(64 * 1024, body.Length - offset)));
        ctx.Response.Close();
    };

    /// <summary>Answers <paramref name="path"/> with a bare status code.</summary>
    public void Status(string path, int statusCode) => _routes["/" + path.TrimStart('/')] = ctx =>
    {
        ctx.Response.StatusCode = statusCode;
        ctx.Response.Close();
        return Task.CompletedTask;
    };

    /// <summary>Announces the full length of <paramref name="body"/> but sends only <paramref name="sent"/> bytes, then drops the connection.</summary>
    public void Truncated(string path, byte[] body, int sent) => _routes["/" + path.TrimStart('/')] = async ctx =>
    {
        ctx.Response.ContentLength64 = body.Length;
        await ctx.Response.OutputStream.WriteAsync(body.AsMemory(0, sent));
        await ctx.Response.OutputStream.FlushAsync();
        ctx.Response.Abort();
    };

    /// <summary>Sends the headers and a few bytes, then nothing for <paramref name="stall"/>.</summary>
    public void Stalls(string path, byte[] body, TimeSpan stall) => _routes["/" + path.TrimStart('/')] = async ctx =>
    {
        ctx.Response.ContentLength64 = body.Length;
        await ctx.Response.OutputStream.WriteAsync(body.AsMemory(0, Math.Min(16, body.Length)));
        await ctx.Response.OutputStream.FlushAsync();
        try { await Task.Delay(stall, _stop.Token); } catch (OperationCanceledException) { }
        ctx.Response.Abort();
    };

    /// <summary>Sends the headers and the first <paramref name="sent"/> bytes of <paramref name="body"/>, then the rest once <paramref name="gate"/> completes.</summary>
    public void Gated(string path, byte[] body, Task gate, int sent = 16) => _routes["/" + path.TrimStart('/')] = async ctx =>
    {
        ctx.Response.ContentLength64 = body.Length;
        await ctx.Response.OutputStream.WriteAsync(body.AsMemory(0, Math.Min(sent, body.Length)));
        await ctx.Response.OutputStream.FlushAsync();
        await gate.WaitAsync(_stop.Token);
        await ctx.Response.OutputStream.WriteAsync(body.AsMemory(Math.Min(sent, body.Length)));
        ctx.Response.Close();
    };

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (HttpListenerException) { return; }
            _ = Task.Run(async () =>
            {
                string path = ctx.Request.Url!.AbsolutePath;
                lock (Requests)
                {
                    Requests[path] = Requests.GetValueOrDefault(path) + 1;
                    Ranges.Add(ctx.Request.Headers["Range"]);
                }
                try
                {
                    if (_routes.TryGetValue(path, out var handler))
                        await handler(ctx);
                    else
                    {
                        ctx.Response.StatusCode = 404;
                        ctx.Response.Close();
                    }
                }
                catch (HttpListenerException) { /* client went away */ }
                catch (ObjectDisposedException) { }
            });
        }
    }

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}
