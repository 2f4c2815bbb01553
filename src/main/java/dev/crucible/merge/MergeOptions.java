package dev.crucible.merge;

import java.nio.file.Path;

/**
 * How to run a merge (the command line's options).
 *
 * @param baseDirs       where relative model paths in the config are looked up, in order
 * @param threads        worker threads computing tensors
 * @param shardBytes     output shard size limit
 * @param memoryBudget   bytes of tensors in flight at once
 * @param copyTokenizer  copy the donor's tokenizer files when the config merges no tokenizer
 * @param allowCrimes    allow mixing architectures and skip inputs whose tensor shapes differ
 * @param seed           seed for random methods (DARE, DELLA, ...)
 * @param writeModelCard write README.md and mergekit_config.yml
 * @param showProgress   draw a progress bar on stderr
 */
public record MergeOptions(Path[] baseDirs, int threads, long shardBytes, long memoryBudget, boolean copyTokenizer,
                           boolean allowCrimes, long seed, boolean writeModelCard, boolean showProgress) {
    public static final long DEFAULT_SHARD_BYTES = 5_000_000_000L;
    public static final long DEFAULT_MEMORY_BUDGET = 384L << 20;

    public static MergeOptions defaults(Path... baseDirs) {
        return new MergeOptions(baseDirs, Runtime.getRuntime().availableProcessors(), DEFAULT_SHARD_BYTES,
                DEFAULT_MEMORY_BUDGET, true, false, 0, true, false);
    }

    public MergeOptions withThreads(int n) {
        return new MergeOptions(baseDirs, n, shardBytes, memoryBudget, copyTokenizer, allowCrimes, seed, writeModelCard,
                showProgress);
    }

    public MergeOptions withShardBytes(long n) {
        return new MergeOptions(baseDirs, threads, n, memoryBudget, copyTokenizer, allowCrimes, seed, writeModelCard,
                showProgress);
    }

    public MergeOptions withCopyTokenizer(boolean b) {
        return new MergeOptions(baseDirs, threads, shardBytes, memoryBudget, b, allowCrimes, seed, writeModelCard,
                showProgress);
    }
}
