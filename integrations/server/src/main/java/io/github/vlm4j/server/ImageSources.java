package io.github.vlm4j.server;

import io.github.vlm4j.core.prompt.ImageInput;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Base64;
import java.util.Locale;
import java.util.Set;

/**
 * Turns an {@code image_url} into image bytes, checking every limit before any decoding: only
 * {@code data:image/...;base64,} URIs, or {@code http(s)} URLs whose host is on the allow-list
 * (fetched without redirects, with a timeout and a size bound); {@code file:} and every other scheme
 * are refused. Thread-safe.
 */
final class ImageSources {
  /** Media types of data URIs the library can decode. */
  static final Set<String> MEDIA_TYPES = Set.of("image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp",
      "image/bmp", "image/x-ms-bmp", "image/tiff", "image/x-icon", "image/vnd.microsoft.icon",
      "image/x-portable-anymap", "image/x-portable-pixmap", "image/x-portable-graymap", "image/x-portable-bitmap");

  private final long maxImageBytes;
  private final Set<String> allowedHosts;
  private final Duration fetchTimeout;
  private final HttpClient client;

  ImageSources(ServerOptions options) {
    this.maxImageBytes = options.maxImageBytes();
    this.allowedHosts = options.allowedImageHosts();
    this.fetchTimeout = options.imageFetchTimeout();
    this.client = allowedHosts.isEmpty() ? null : HttpClient.newBuilder().connectTimeout(fetchTimeout)
        .followRedirects(HttpClient.Redirect.NEVER).build();
  }

  /**
   * @param url the {@code image_url.url} value
   * @param param the JSON path of the value, for error messages
   * @return the image, not yet decoded
   * @throws ApiError 400 naming what was expected and what was found (never the data itself)
   */
  ImageInput load(String url, String param) {
    String head = url.length() > 16 ? url.substring(0, 16) : url;
    String lower = head.toLowerCase(Locale.ROOT);
    if (lower.startsWith("data:")) {
      return ImageInput.of(dataUri(url, param));
    }
    if (lower.startsWith("http://") || lower.startsWith("https://")) {
      return ImageInput.of(fetch(url, param));
    }
    int colon = head.indexOf(':');
    String scheme = colon > 0 ? head.substring(0, colon) : "(none)";
    throw ApiError.badRequest("invalid_image_url", param, "expected a data:image/...;base64, URI"
        + (allowedHosts.isEmpty() ? "" : " or an http(s) URL of an allowed host") + ", found the scheme \""
        + printable(scheme) + "\"" + (scheme.equalsIgnoreCase("file") ? ": this server never reads local files" : ""));
  }

  private byte[] dataUri(String url, String param) {
    int comma = url.indexOf(',');
    if (comma < 0 || comma > 256) {
      throw ApiError.badRequest("invalid_image_url", param, "expected a data URI of the form"
          + " data:image/<type>;base64,<data>, found no ',' in its first 256 characters");
    }
    String meta = url.substring(5, comma).toLowerCase(Locale.ROOT);
    if (!meta.endsWith(";base64")) {
      throw ApiError.badRequest("invalid_image_url", param, "expected a base64 data URI (data:image/<type>;base64,...),"
          + " found \"data:" + printable(meta) + ",\"");
    }
    String mediaType = meta.substring(0, meta.length() - ";base64".length());
    int semi = mediaType.indexOf(';');
    if (semi >= 0) {
      mediaType = mediaType.substring(0, semi);
    }
    if (!MEDIA_TYPES.contains(mediaType)) {
      throw ApiError.badRequest("unsupported_media_type", param, "expected an image media type (image/png,"
          + " image/jpeg, image/gif, image/webp, image/bmp, image/tiff, ...), found \"" + printable(mediaType) + "\"");
    }
    int dataChars = url.length() - comma - 1;
    long maxChars = 4 * ((maxImageBytes + 2) / 3);
    if (dataChars > maxChars + 2) {
      throw ApiError.of(413, ApiError.INVALID_REQUEST, "image_too_large", param, "expected at most "
          + maxImageBytes + " encoded image bytes (" + maxChars + " base64 characters), found " + dataChars
          + " base64 characters");
    }
    byte[] bytes;
    try {
      bytes = Base64.getDecoder().decode(url.substring(comma + 1));
    } catch (IllegalArgumentException e) {
      throw ApiError.badRequest("invalid_base64", param, "expected base64 image data (RFC 4648, no line breaks),"
          + " found " + e.getMessage());
    }
    if (bytes.length == 0) {
      throw ApiError.badRequest("image_empty", param, "expected image data, found an empty data URI");
    }
    if (bytes.length > maxImageBytes) {
      throw ApiError.of(413, ApiError.INVALID_REQUEST, "image_too_large", param, "expected at most "
          + maxImageBytes + " encoded image bytes, found " + bytes.length);
    }
    return bytes;
  }

  private byte[] fetch(String url, String param) {
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw ApiError.badRequest("invalid_image_url", param, "expected a valid http(s) URL, found a malformed one");
    }
    String host = uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT);
    if (client == null || !allowedHosts.contains(host) || uri.getUserInfo() != null) {
      throw ApiError.badRequest("image_url_not_allowed", param, "remote image URLs are refused"
          + (client == null ? " (this server allows no remote hosts; send the image as a data:image/...;base64, URI)"
              : " unless their host is on the server's --allow-image-host list; found host \"" + printable(host)
                  + "\""));
    }
    HttpRequest request = HttpRequest.newBuilder(uri).timeout(fetchTimeout).GET().build();
    java.util.concurrent.CompletableFuture<HttpResponse<byte[]>> f =
        client.sendAsync(request, info -> new LimitedBody(maxImageBytes));
    HttpResponse<byte[]> r;
    try {
      // the whole fetch, body included, within the timeout (HttpClient's own covers the headers only)
      r = f.get(fetchTimeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      f.cancel(true);
      throw ApiError.badRequest("image_fetch_failed", param, "the image host \"" + printable(host)
          + "\" did not deliver the image within " + fetchTimeout.toMillis() + " ms");
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof ApiError a) {
        throw a;
      }
      throw ApiError.badRequest("image_fetch_failed", param, "could not fetch the image from \"" + printable(host)
          + "\": " + (e.getCause() == null ? "unknown" : e.getCause().getClass().getSimpleName()));
    } catch (InterruptedException e) {
      f.cancel(true);
      Thread.currentThread().interrupt();
      throw ApiError.badRequest("image_fetch_failed", param, "the image fetch was interrupted");
    }
    if (r.statusCode() != 200) {
      throw ApiError.badRequest("image_fetch_failed", param, "expected HTTP 200 from the image host, found "
          + r.statusCode());
    }
    return r.body();
  }

  /** Collects a response body, failing as soon as it exceeds the image limit. */
  private static final class LimitedBody implements HttpResponse.BodySubscriber<byte[]> {
    private final long max;
    private final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    private final java.util.concurrent.CompletableFuture<byte[]> result = new java.util.concurrent.CompletableFuture<>();
    private java.util.concurrent.Flow.Subscription subscription;

    LimitedBody(long max) {
      this.max = max;
    }

    @Override
    public java.util.concurrent.CompletionStage<byte[]> getBody() {
      return result;
    }

    @Override
    public void onSubscribe(java.util.concurrent.Flow.Subscription s) {
      subscription = s;
      s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(java.util.List<java.nio.ByteBuffer> items) {
      if (result.isDone()) {
        return;
      }
      for (java.nio.ByteBuffer b : items) {
        if (out.size() + (long) b.remaining() > max) {
          subscription.cancel();
          result.completeExceptionally(ApiError.of(413, ApiError.INVALID_REQUEST, "image_too_large", null,
              "expected at most " + max + " encoded image bytes from the image host, found more"));
          return;
        }
        byte[] chunk = new byte[b.remaining()];
        b.get(chunk);
        out.write(chunk, 0, chunk.length);
      }
    }

    @Override
    public void onError(Throwable t) {
      result.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
      result.complete(out.toByteArray());
    }
  }

  /** @return {@code s} cut to 40 characters, control characters replaced, for messages */
  static String printable(String s) {
    String t = s.length() > 40 ? s.substring(0, 40) + "..." : s;
    StringBuilder sb = new StringBuilder(t.length());
    t.codePoints().forEach(c -> sb.appendCodePoint(Character.isISOControl(c) ? '?' : c));
    return sb.toString();
  }
}
