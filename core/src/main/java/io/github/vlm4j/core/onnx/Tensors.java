package io.github.vlm4j.core.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.platform.Fp16Conversions;
import io.github.vlm4j.core.InferenceException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;

/**
 * Tensor creation from direct, native-order buffers (zero-copy into ONNX Runtime) and reading of
 * outputs. Every method returning an {@link OnnxTensor} hands ownership to the caller.
 */
public final class Tensors {
  private Tensors() {}

  /**
   * Allocates a direct float buffer.
   *
   * @param n elements
   * @return a direct native-order float buffer
   */
  public static FloatBuffer directFloats(int n) {
    return ByteBuffer.allocateDirect(Math.multiplyExact(n, 4)).order(ByteOrder.nativeOrder()).asFloatBuffer();
  }

  /**
   * Allocates a direct long buffer.
   *
   * @param n elements
   * @return a direct native-order long buffer
   */
  public static LongBuffer directLongs(int n) {
    return ByteBuffer.allocateDirect(Math.multiplyExact(n, 8)).order(ByteOrder.nativeOrder()).asLongBuffer();
  }

  /**
   * Allocates a direct short buffer.
   *
   * @param n elements
   * @return a direct native-order short buffer (float16 storage)
   */
  public static ShortBuffer directShorts(int n) {
    return ByteBuffer.allocateDirect(Math.multiplyExact(n, 2)).order(ByteOrder.nativeOrder()).asShortBuffer();
  }

  /**
   * Wraps the remaining elements of a direct buffer; the buffer must stay reachable while the
   * tensor is used.
   *
   * @param data direct buffer, {@code remaining()} equals the element count
   * @param shape tensor shape
   * @return a new tensor (caller owns)
   */
  public static OnnxTensor floats(FloatBuffer data, long... shape) {
    try {
      return OnnxTensor.createTensor(OrtRuntime.environment(), data, shape);
    } catch (OrtException e) {
      throw new InferenceException("cannot create float tensor " + Arrays.toString(shape), e);
    }
  }

  /**
   * Creates a FLOAT16 tensor from a buffer.
   *
   * @param data direct buffer of float16 bits
   * @param shape tensor shape
   * @return a new FLOAT16 tensor (caller owns)
   */
  public static OnnxTensor halfs(ShortBuffer data, long... shape) {
    try {
      return OnnxTensor.createTensor(OrtRuntime.environment(), data, shape, OnnxJavaType.FLOAT16);
    } catch (OrtException e) {
      throw new InferenceException("cannot create float16 tensor " + Arrays.toString(shape), e);
    }
  }

  /**
   * Creates an INT64 tensor from a buffer.
   *
   * @param data direct buffer
   * @param shape tensor shape
   * @return a new INT64 tensor (caller owns)
   */
  public static OnnxTensor longs(LongBuffer data, long... shape) {
    try {
      return OnnxTensor.createTensor(OrtRuntime.environment(), data, shape);
    } catch (OrtException e) {
      throw new InferenceException("cannot create int64 tensor " + Arrays.toString(shape), e);
    }
  }

  /**
   * Creates a BOOL tensor from a buffer.
   *
   * @param data direct buffer of 0/1 bytes
   * @param shape tensor shape
   * @return a new BOOL tensor (caller owns)
   */
  public static OnnxTensor bools(ByteBuffer data, long... shape) {
    try {
      return OnnxTensor.createTensor(OrtRuntime.environment(), data, shape, OnnxJavaType.BOOL);
    } catch (OrtException e) {
      throw new InferenceException("cannot create bool tensor " + Arrays.toString(shape), e);
    }
  }

  /**
   * A tensor with no elements (a dimension of size 0), e.g. an empty KV cache {@code [1,kv,0,hd]}.
   *
   * @param type FLOAT or FLOAT16
   * @param shape shape containing a 0
   * @return a new tensor (caller owns)
   */
  public static OnnxTensor empty(OnnxJavaType type, long... shape) {
    return switch (type) {
      case FLOAT -> floats(directFloats(0), shape);
      case FLOAT16 -> halfs(directShorts(0), shape);
      default -> throw new IllegalArgumentException("empty tensors of type " + type + " are not supported");
    };
  }

  /**
   * Copies a FLOAT or FLOAT16 tensor into a new float array (float16 converted exactly).
   *
   * @param value an output value
   * @return its elements as float32
   */
  public static float[] readFloats(OnnxValue value) {
    if (!(value instanceof OnnxTensor t)) {
      throw new InferenceException("expected a tensor output, got " + value.getClass().getSimpleName());
    }
    return switch (t.getInfo().type) {
      case FLOAT -> {
        FloatBuffer b = t.getFloatBuffer();
        float[] out = new float[b.remaining()];
        b.get(out);
        yield out;
      }
      case FLOAT16 -> {
        ShortBuffer b = t.getShortBuffer();
        float[] out = new float[b.remaining()];
        for (int i = 0; i < out.length; i++) {
          out[i] = Fp16Conversions.fp16ToFloat(b.get(i));
        }
        yield out;
      }
      default -> throw new InferenceException("expected a float or float16 tensor, got " + t.getInfo().type);
    };
  }

  /**
   * Converts a float to float16.
   *
   * @param v float
   * @return float16 bits (round to nearest even)
   */
  public static short toHalf(float v) {
    return Fp16Conversions.floatToFp16(v);
  }

  /**
   * Converts float16 to a float.
   *
   * @param h float16 bits
   * @return the float value
   */
  public static float fromHalf(short h) {
    return Fp16Conversions.fp16ToFloat(h);
  }
}
