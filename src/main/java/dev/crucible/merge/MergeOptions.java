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
 * @param fsync          force the shards to disk before publishing the output (mergekit does not)
 */
public record MergeOptions(Path[] baseDirs, int threads, long shardBytes, long memoryBudget, boolean copyTokenizer,
                           boolean allowCrimes, long seed, boolean writeModelCard, boolean showProgress,
                           boolean fsync) {
}
