package dev.crucible.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crucible.CrucibleException;
import dev.crucible.tensor.FileRegion;
import dev.crucible.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The safetensors weights of a model directory: one {@code model.safetensors}, or the shards named by
 * {@code model.safetensors.index.json}. All shards are mapped at open; tensors are read lazily.
 */
public final class Checkpoint implements AutoCloseable, TensorSource {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path directory;
    private final List<SafetensorsFile> shards;
    private final Map<String, SafetensorsFile> byTensor;

    private Checkpoint(Path directory, List<SafetensorsFile> shards, Map<String, SafetensorsFile> byTensor) {
        this.directory = directory;
        this.shards = shards;
        this.byTensor = byTensor;
    }

    /** True when {@code dir} holds safetensors weights this class can open. */
    public static boolean isCheckpoint(Path dir) {
        return Files.isRegularFile(dir.resolve(INDEX_FILE)) || Files.isRegularFile(dir.resolve(SINGLE_FILE))
                || !safetensorsFiles(dir).isEmpty();
    }

    public static Checkpoint open(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new CrucibleException(dir + ": model directory not found");
        }
        Path index = dir.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            return openIndexed(dir, index);
        }
        List<Path> files = Files.isRegularFile(dir.resolve(SINGLE_FILE)) ? List.of(dir.resolve(SINGLE_FILE))
                : safetensorsFiles(dir);
        if (files.isEmpty()) {
            throw new CrucibleException(dir + ": no model.safetensors or " + INDEX_FILE
                    + " (Crucible reads safetensors weights; convert .bin checkpoints first)");
        }
        List<SafetensorsFile> shards = new ArrayList<>();
        Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
        try {
            for (Path f : files) {
                SafetensorsFile sf = SafetensorsFile.open(f);
                shards.add(sf);
                for (String name : sf.tensors().keySet()) {
                    if (byTensor.putIfAbsent(name, sf) != null) {
                        throw new CrucibleException(dir + ": tensor '" + name + "' appears in both "
                                + byTensor.get(name).path().getFileName() + " and " + f.getFileName());
                    }
                }
            }
        } catch (CrucibleException e) {
            shards.forEach(SafetensorsFile::close);
            throw e;
        }
        return new Checkpoint(dir, shards, byTensor);
    }

    private static List<Path> safetensorsFiles(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".safetensors"))
                    .filter(p -> p.getFileName().toString().startsWith("model"))
                    .sorted().toList();
        } catch (IOException e) {
            throw new CrucibleException(dir + ": cannot list directory: " + e.getMessage(), e);
        }
    }

    private static Checkpoint openIndexed(Path dir, Path index) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(index.toFile());
        } catch (IOException e) {
            throw new CrucibleException(index + ": not valid JSON: " + JsonErrors.describe(e), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new CrucibleException(index + ": missing the 'weight_map' object");
        }
        Map<String, SafetensorsFile> opened = new LinkedHashMap<>();
        Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
        try {
            for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String shardName = e.getValue().asText();
                Path shardPath = dir.resolve(shardName);
                Path base = dir.toAbsolutePath().normalize();
                if (!base.equals(base.resolve(shardName).normalize().getParent())) {
                    throw new CrucibleException(index + ": tensor '" + e.getKey() + "' is mapped to shard '"
                            + shardName + "', which is not a file name inside the model directory");
                }
                if (!Files.isRegularFile(shardPath)) {
                    throw new CrucibleException(index + ": tensor '" + e.getKey() + "' is mapped to shard '"
                            + shardName + "', which does not exist");
                }
                SafetensorsFile sf = opened.get(shardName);
                if (sf == null) {
                    sf = SafetensorsFile.open(shardPath);
                    opened.put(shardName, sf);
                }
                if (!sf.contains(e.getKey())) {
                    throw new CrucibleException(index + ": tensor '" + e.getKey() + "' is mapped to " + shardName
                            + " but that shard does not hold it");
                }
                byTensor.put(e.getKey(), sf);
            }
        } catch (CrucibleException e) {
            opened.values().forEach(SafetensorsFile::close);
            throw e;
        }
        List<SafetensorsFile> shards = new ArrayList<>(opened.values());
        shards.sort(java.util.Comparator.comparing(f -> f.path().getFileName().toString()));
        return new Checkpoint(dir, shards, byTensor);
    }

    public Path directory() {
        return directory;
    }

    /** Tensor names in file order (index order for sharded checkpoints). */
    public List<String> names() {
        return List.copyOf(byTensor.keySet());
    }

    public boolean contains(String name) {
        return byTensor.containsKey(name);
    }

    public TensorInfo info(String name) {
        return shardOf(name).info(name);
    }

    public Tensor tensor(String name) {
        return shardOf(name).tensor(name);
    }

    /** Where tensor {@code name}'s bytes lie in its shard file, for positional reads. */
    public FileRegion region(String name) {
        return shardOf(name).region(name);
    }

    private SafetensorsFile shardOf(String name) {
        SafetensorsFile sf = byTensor.get(name);
        if (sf == null) {
            throw new CrucibleException(directory + ": checkpoint has no tensor named '" + name + "'");
        }
        return sf;
    }

    public List<SafetensorsFile> shards() {
        return Collections.unmodifiableList(shards);
    }

    /** Bytes of tensor data over all shards. */
    public long totalBytes() {
        long n = 0;
        for (String name : byTensor.keySet()) {
            n += info(name).byteSize();
        }
        return n;
    }

    @Override
    public void close() {
        shards.forEach(SafetensorsFile::close);
    }
}
