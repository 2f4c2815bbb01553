/**
 * The 20 merge methods of mergekit 0.1.4, registered in {@link dev.crucible.merge.methods.MethodRegistry} and
 * reached through {@code dev.crucible.merge.MergeMethods.get(name)}.
 *
 * <h2>Arithmetic as mergekit does it</h2>
 * mergekit computes in the config's {@code dtype} with torch semantics, and its outputs are reproduced bit for
 * bit by following the same order of operations (checked against every fixture in {@code testdata/mergekit}):
 * <ul>
 *   <li>every element-wise op is computed in float32 and rounded to the dtype ({@code Rounding}; F32 = no-op);</li>
 *   <li>weights given per model become dtype tensors first ({@code 0.3 -> 0.30078125} in bf16), while a Python
 *       scalar on the right of {@code *, /, +} keeps float32 precision; {@code scalar / tensor} is
 *       {@code tensor.reciprocal() * scalar}; a 0-dim float32 tensor meeting a bf16 tensor is rounded first;</li>
 *   <li>sums over the model dimension accumulate in float32 left to right and are rounded once; full
 *       reductions (norms, L1 sums, means) accumulate in float and round once (a mean is float sum / count);
 *       where a float32 reduction feeds later steps unrounded (karcher's {@code linalg.norm}),
 *       {@code TorchReductions} follows torch's lane order;</li>
 *   <li>slerp runs in float32 like mergekit's NumPy code and rounds the result once.</li>
 * </ul>
 *
 * <h2>Top-k and ties</h2>
 * bf16 magnitudes tie a lot (at real sizes up to a few percent of a tensor's entries sit at the top-k cut), so which
 * tied entries survive a cut decides bits. ties, breadcrumbs and sce follow torch's own (unstable, deterministic)
 * CPU sort and topk orders at every size ({@code TorchSortOrder}: libstdc++ introsort / introselect / heap select),
 * which makes them bit-identical to mergekit. A cut needs no full sort: the introsort is followed only into the
 * parts that contain the cut, in expected linear time, and ties streams while doing so (one bit set per model).
 *
 * <h2>Random masks</h2>
 * DARE and DELLA masks come from {@code CounterRandom}: the draw for entry {@code i} is a hash of
 * (seed, tensor name, model index, i), so results do not depend on threads, chunking or order. The keep
 * probability is rounded to the work dtype first ({@code 0.53 -> 0.53125} in bf16). mergekit draws from torch's
 * generator, so only statistics match it (kept fraction, L1 norm of the change); rescaling is mergekit's
 * whole-tensor L1 ratio, not {@code 1/density}.
 *
 * <h2>Memory and speed</h2>
 * Methods are stateless and called concurrently. linear, slerp, nearswap, passthrough, model_stock, ram,
 * ramplus_tl and the task-arithmetic family without whole-tensor needs (task_arithmetic, dare_ties,
 * dare_linear, ties) stream the inputs in 16K-entry chunks, recomputing masks
 * instead of storing them (ties keeps its top-k as a bit set); the others (breadcrumbs*, della*, sce, nuslerp, multislerp,
 * karcher, arcee_fusion) hold one float[] per input. Hot loops avoid data-dependent branches on signs and masks and round bf16 with the
 * Vector API.
 */
package dev.crucible.merge.methods;
