package dev.crucible.cli;

import dev.crucible.CrucibleException;
import dev.crucible.ProgressBar;
import dev.crucible.gguf.GgufExport;
import dev.crucible.gguf.OutType;
import dev.crucible.io.OutputCheck;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code crucible export}: models in other runtimes' formats. */
@Command(name = "export", description = "Export a model for other runtimes.", subcommands = ExportCommand.Gguf.class)
final class ExportCommand {
    @Command(name = "gguf", description = {
            "Write a Hugging Face model as GGUF for llama.cpp, Ollama and LM Studio, byte for byte what llama.cpp's "
                    + "tools write: f32, f16, bf16 and q8_0 as convert_hf_to_gguf.py --outtype, the k-quants and q4_0 "
                    + "as llama-quantize applied to its f32 conversion.",
            "Families: Llama, Mistral, Mixtral, Qwen2, Qwen3, Gemma, Gemma2, Phi-3.",
            "Examples:",
            "  crucible export gguf my-model my-model.q8_0.gguf --outtype q8_0",
            "  crucible export gguf my-model --all-types --out-dir gguf/",
            "An existing OUT.gguf (or a file of --all-types) is replaced only with --overwrite."})
    static final class Gguf implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "MODEL_DIR", description = "Hugging Face model directory (safetensors)")
        Path model;

        @Parameters(index = "1", arity = "0..1", paramLabel = "OUT.gguf",
                description = "output file, or an existing directory for llama.cpp's default file name (not with "
                        + "--all-types); never inside MODEL_DIR")
        Path out;

        @Option(names = "--outtype", defaultValue = "f16", paramLabel = "TYPE",
                description = "f32, f16 (default), bf16, q8_0, q4_0, q4_k_m, q5_k_m or q6_k")
        String outtype;

        @Option(names = "--all-types", description = "write every type in one pass over the weights (AutoQuant), "
                + "named as llama.cpp names them, and print a table of file sizes")
        boolean allTypes;

        @Option(names = "--types", split = ",", paramLabel = "T1,T2", description = "with --all-types: only these types")
        List<String> types;

        @Option(names = "--out-dir", paramLabel = "DIR", description = "directory for --all-types (not inside MODEL_DIR)")
        Path outDir;

        @Option(names = "--pre", paramLabel = "NAME", description = "BPE pre-tokenizer to use when llama.cpp's table "
                + "does not know the tokenizer's hash (e.g. llama-bpe, qwen2); a known hash keeps its name")
        String pre;

        @Option(names = "--quiet", description = "no progress bar")
        boolean quiet;

        @Mixin
        OverwriteOption overwrite;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            if (!Files.isDirectory(model)) {
                throw new CrucibleException(model + ": model directory not found");
            }
            Map<OutType, Path> outputs = new LinkedHashMap<>();
            if (allTypes) {
                if (this.out != null) {
                    throw new CrucibleException("--all-types writes several files: give --out-dir, not OUT.gguf");
                }
                if (outDir == null) {
                    throw new CrucibleException("--all-types needs --out-dir DIR (the files are named as llama.cpp names them)");
                }
                List<OutType> chosen = types == null ? List.of(OutType.values())
                        : types.stream().map(OutType::parse).toList();
                Path dir = OutputCheck.of(outDir, "--out-dir").reads("the model", model)
                        .directory(overwrite.overwrite, spec.commandLine().getErr()::println);
                try {
                    Files.createDirectories(dir);
                } catch (java.io.IOException e) {
                    throw new CrucibleException(dir + ": cannot create the output directory: " + e.getMessage(), e);
                }
                for (OutType t : chosen) {
                    outputs.put(t, dir.resolve(GgufExport.defaultFileName(model, t, pre)));
                }
            } else {
                if (this.out == null) {
                    throw new CrucibleException("give the output file (OUT.gguf), or --all-types --out-dir DIR");
                }
                if (outDir != null || types != null) {
                    throw new CrucibleException("--out-dir and --types go with --all-types");
                }
                OutType type = OutType.parse(outtype);
                Path file = Files.isDirectory(this.out) ? this.out.resolve(GgufExport.defaultFileName(model, type, pre))
                        : this.out;
                outputs.put(type, OutputCheck.of(file, "OUT.gguf").reads("the model", model).file(overwrite.overwrite));
            }
            long start = System.nanoTime();
            List<GgufExport.Result> results = GgufExport.export(model, outputs, pre,
                    new ProgressBar(spec.commandLine().getErr(), "export", "tensors", !quiet));
            double secs = (System.nanoTime() - start) / 1e9;
            if (allTypes) {
                out.printf(Locale.ROOT, "%-8s %12s  %s%n", "type", "size", "file");
                for (GgufExport.Result r : results) {
                    out.printf(Locale.ROOT, "%-8s %12s  %s%n", r.type().cliName(), size(r.bytes()), r.path());
                }
            } else {
                GgufExport.Result r = results.getFirst();
                out.printf(Locale.ROOT, "wrote %s (%s, %s)%n", r.path(), r.type().cliName(), size(r.bytes()));
            }
            out.printf(Locale.ROOT, "done in %.1f s%n", secs);
            return 0;
        }

        private static String size(long bytes) {
            return bytes >= 1 << 30 ? String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1 << 30))
                    : String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1 << 20));
        }
    }
}
