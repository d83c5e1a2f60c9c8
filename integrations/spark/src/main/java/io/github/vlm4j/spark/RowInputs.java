package io.github.vlm4j.spark;

import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import java.io.Serializable;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/** The input columns bound to a schema's positions: reads a {@link RowRequest} from each row. Immutable. */
final class RowInputs implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String imageColumn;
  private final int image;
  private final boolean imagesArePaths;
  private final boolean imageArray;
  private final String promptColumn;
  private final int prompt;
  private final int maxTokens;

  private RowInputs(String imageColumn, int image, boolean imagesArePaths, boolean imageArray, String promptColumn,
      int prompt, int maxTokens) {
    this.imageColumn = imageColumn;
    this.image = image;
    this.imagesArePaths = imagesArePaths;
    this.imageArray = imageArray;
    this.promptColumn = promptColumn;
    this.prompt = prompt;
    this.maxTokens = maxTokens;
  }

  /**
   * Binds the column names to a schema, checking their types.
   *
   * @throws IllegalArgumentException naming the column, the expected and the found type
   */
  static RowInputs bind(StructType schema, String imageColumn, boolean paths, String promptColumn,
      String maxTokensColumn) {
    int image = -1;
    boolean array = false;
    if (imageColumn != null) {
      image = index(schema, imageColumn);
      DataType t = schema.fields()[image].dataType();
      DataType one = paths ? DataTypes.StringType : DataTypes.BinaryType;
      array = t instanceof ArrayType a && a.elementType().equals(one);
      if (!array && !t.equals(one)) {
        throw new IllegalArgumentException("image column '" + imageColumn + "' must be " + one.simpleString()
            + " or array<" + one.simpleString() + ">" + (paths ? " (paths)" : " (encoded image bytes)") + ", found "
            + t.simpleString());
      }
    }
    int p = -1;
    if (promptColumn != null) {
      p = index(schema, promptColumn);
      expect(schema, p, "prompt", DataTypes.StringType);
    }
    int m = -1;
    if (maxTokensColumn != null) {
      m = index(schema, maxTokensColumn);
      DataType t = schema.fields()[m].dataType();
      if (!(t.equals(DataTypes.IntegerType) || t.equals(DataTypes.LongType) || t.equals(DataTypes.ShortType))) {
        throw new IllegalArgumentException("max tokens column '" + maxTokensColumn + "' must be int, bigint or "
            + "smallint, found " + t.simpleString());
      }
    }
    return new RowInputs(imageColumn, image, paths, array, promptColumn, p, m);
  }

  private static int index(StructType schema, String column) {
    for (int i = 0; i < schema.fields().length; i++) {
      if (schema.fields()[i].name().equals(column)) {
        return i;
      }
    }
    throw new IllegalArgumentException("no column '" + column + "' in the input; its columns are "
        + String.join(", ", schema.fieldNames()));
  }

  private static void expect(StructType schema, int i, String what, DataType type) {
    DataType t = schema.fields()[i].dataType();
    if (!t.equals(type)) {
      throw new IllegalArgumentException(what + " column '" + schema.fields()[i].name() + "' must be "
          + type.simpleString() + ", found " + t.simpleString());
    }
  }

  /**
   * Reads one row.
   *
   * @throws VlmInputException INVALID_PROMPT for a null prompt where a prompt column is set,
   *     INVALID_OPTION for a token limit outside int, IMAGE_NOT_FOUND for a path that is no path
   */
  RowRequest read(Row row) {
    List<ImageInput> images = new ArrayList<>();
    if (image >= 0 && !row.isNullAt(image)) {
      List<Object> values = imageArray ? row.getList(image) : List.of(row.get(image));
      for (Object v : values) {
        if (v == null) {
          throw new VlmInputException(VlmInputException.Reason.IMAGE_EMPTY, "image column '" + imageColumn
              + "' holds a null image in its array");
        }
        images.add(imagesArePaths ? ImageInput.of(path((String) v)) : ImageInput.of((byte[]) v));
      }
    }
    String text = null;
    if (prompt >= 0) {
      if (row.isNullAt(prompt)) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_PROMPT, "prompt column '" + promptColumn
            + "' is null in this row; expected the prompt text");
      }
      text = row.getString(prompt);
    }
    Integer limit = null;
    if (maxTokens >= 0 && !row.isNullAt(maxTokens)) {
      long n = ((Number) row.get(maxTokens)).longValue();
      if (n < Integer.MIN_VALUE || n > Integer.MAX_VALUE) {
        throw new VlmInputException(VlmInputException.Reason.INVALID_OPTION, "max tokens " + n + " is outside int");
      }
      limit = (int) n;
    }
    return new RowRequest(images, text, limit);
  }

  private Path path(String value) {
    try {
      return value.startsWith("file:") ? Path.of(URI.create(value)) : Path.of(value);
    } catch (IllegalArgumentException e) {   // InvalidPathException, or a malformed URI
      throw new VlmInputException(VlmInputException.Reason.IMAGE_NOT_FOUND, "image column '" + imageColumn
          + "' holds '" + value + "', which is not a local path or file: URI (" + e.getMessage()
          + "); read other file systems with spark.read().format(\"binaryFile\") and use the bytes");
    }
  }
}
