/* Ranking users: each user's top-k items, with the history item behind each.
 *
 * One user at a time against a dense scratch row of the catalogue: the user's history items
 * spread their neighbours' similarities into it (the sparse product's sums, in scipy's order),
 * the candidates are scored, a heap of k keeps the best, and the reason for each new item is
 * the history item with the largest term, tracked while summing. The numpy path made each of
 * these steps a pass over arrays as long as a block's products; here they are one pass over
 * the user's products. The arithmetic is the numpy path's, operation for operation in float32
 * (recs.algorithms.blend and knn say what it is), so both give the same bits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { TOUCHED = 1, OWNED = 2, MASKED = 4, POPULAR = 8 };

/* a ranks before b: higher score, then lower item. */
static inline int better(float sa, int32_t ia, float sb, int32_t ib) {
    return sa > sb || (sa == sb && ia < ib);
}

/* A heap of the best k so far whose root is the worst of them. */
static void sift_down(float *hs, int32_t *hi, int64_t size, int64_t at) {
    for (;;) {
        int64_t worst = at, left = 2 * at + 1, right = left + 1;
        if (left < size && better(hs[worst], hi[worst], hs[left], hi[left])) worst = left;
        if (right < size && better(hs[worst], hi[worst], hs[right], hi[right])) worst = right;
        if (worst == at) return;
        float s = hs[at]; hs[at] = hs[worst]; hs[worst] = s;
        int32_t i = hi[at]; hi[at] = hi[worst]; hi[worst] = i;
        at = worst;
    }
}

static void sift_up(float *hs, int32_t *hi, int64_t at) {
    while (at > 0) {
        int64_t parent = (at - 1) / 2;
        if (!better(hs[parent], hi[parent], hs[at], hi[at])) return;
        float s = hs[at]; hs[at] = hs[parent]; hs[parent] = s;
        int32_t i = hi[at]; hi[at] = hi[parent]; hi[parent] = i;
        at = parent;
    }
}

/* Top-k lists for n_users rows of a users x items history (CSR, raw weights).
 *
 * mask (CSR, may be NULL): cells never listed; mask_history: every nonzero history cell too.
 * sim: the items x items neighbours (CSR). blend == 0 scores sum_i w(u,i) sim(i,j) over the
 * raw history (an item-item model); blend != 0 scores recs.algorithms.blend's repeat part
 * (positive history / its maximum, times repeat_weight) and discovery part (the sums over the
 * positive history for items not owned, / their maximum, optionally mixed with popularity:
 * keep_share = 1 - p and popular_share = p for the n_popular items listed in popular, then
 * times 1 - repeat_weight). Zero scores are not candidates.
 *
 * Writes counts[u] (at most k) and, from u * k on, items best first, their scores, the
 * history item behind each (the item itself when owned, else the history item with the
 * largest positive term, else the user's heaviest item, -1 for an empty history) and whether
 * the user owns it (a positive history weight). Returns 0, or -1 when out of memory.
 */
int64_t recs_rank_users(
    int64_t n_users, const int64_t *h_indptr, const int32_t *h_indices, const float *h_data,
    const int64_t *m_indptr, const int32_t *m_indices, int64_t mask_history,
    const int64_t *s_indptr, const int32_t *s_indices, const float *s_data, int64_t n_items,
    int64_t blend, const float *repeat_weight, const float *popularity,
    const int32_t *popular, int64_t n_popular, float keep_share, float popular_share,
    int64_t k, int64_t *counts, int32_t *items, float *scores, int32_t *because,
    uint8_t *owned) {
    float *sums = calloc((size_t)n_items, sizeof(float));
    float *best = calloc((size_t)n_items, sizeof(float));
    float *own = malloc((size_t)n_items * sizeof(float));
    int32_t *arg = malloc((size_t)n_items * sizeof(int32_t));
    int32_t *touched = malloc((size_t)n_items * sizeof(int32_t));
    uint8_t *state = calloc((size_t)n_items, 1);
    if (!sums || !best || !own || !arg || !touched || !state) {
        free(sums); free(best); free(own); free(arg); free(touched); free(state);
        return -1;
    }
    const int use_popular = blend && popular_share > 0.0f;
    for (int64_t u = 0; u < n_users; u++) {
        const int64_t lo = h_indptr[u], hi = h_indptr[u + 1];
        int64_t n_touched = 0;
        int32_t heavy = -1;
        float heavy_weight = 0.0f, top_weight = 0.0f;
        for (int64_t e = lo; e < hi; e++) {
            const int32_t j = h_indices[e];
            const float v = h_data[e];
            if (e == lo || v > heavy_weight) { heavy_weight = v; heavy = j; }
            if (v > 0.0f) {
                state[j] |= OWNED;
                own[j] = v;
                if (v > top_weight) top_weight = v;
            }
            if (mask_history && v != 0.0f) state[j] |= MASKED;
        }
        if (m_indptr) {
            for (int64_t e = m_indptr[u]; e < m_indptr[u + 1]; e++) state[m_indices[e]] |= MASKED;
        }
        for (int64_t e = lo; e < hi; e++) {
            const int32_t j = h_indices[e];
            const float v = h_data[e];
            if (blend && !(v > 0.0f)) continue;  /* the blend clips the history at zero */
            for (int64_t kk = s_indptr[j]; kk < s_indptr[j + 1]; kk++) {
                const int32_t c = s_indices[kk];
                const float term = v * s_data[kk];
                if (!(state[c] & TOUCHED)) { state[c] |= TOUCHED; touched[n_touched++] = c; }
                sums[c] += term;
                if (term > best[c] || (term == best[c] && term > 0.0f && j < arg[c])) {
                    best[c] = term;
                    arg[c] = j;
                }
            }
        }
        float found_top = 0.0f;
        if (blend) {
            for (int64_t e = lo; e < hi; e++) {  /* the repeat part's candidates */
                const int32_t j = h_indices[e];
                if ((state[j] & (OWNED | TOUCHED)) == OWNED) {
                    state[j] |= TOUCHED;
                    touched[n_touched++] = j;
                }
            }
            for (int64_t t = 0; t < n_touched; t++) {
                const int32_t c = touched[t];
                if (!(state[c] & OWNED) && sums[c] > found_top) found_top = sums[c];
            }
            if (use_popular) {
                for (int64_t p = 0; p < n_popular; p++) {
                    const int32_t c = popular[p];
                    if (state[c] & OWNED) continue;
                    state[c] |= POPULAR;
                    if (!(state[c] & TOUCHED)) { state[c] |= TOUCHED; touched[n_touched++] = c; }
                }
            }
        }
        float *hs = scores + u * k;
        int32_t *hi_items = items + u * k;
        int64_t size = 0;
        for (int64_t t = 0; t < n_touched; t++) {
            const int32_t c = touched[t];
            const uint8_t st = state[c];
            if (st & MASKED) continue;
            float score;
            if (!blend) {
                score = sums[c];
            } else if (st & OWNED) {
                score = own[c] / top_weight;
                score = score * repeat_weight[c];
            } else {
                const int found = sums[c] > 0.0f;
                float f = found ? sums[c] / found_top : 0.0f;
                if (use_popular) {
                    if (found && (st & POPULAR)) f = f * keep_share + popularity[c] * popular_share;
                    else if (found) f = f * keep_share;
                    else if (st & POPULAR) f = popularity[c] * popular_share;
                    else continue;
                } else if (!found) {
                    continue;
                }
                if (f == 0.0f) continue;
                score = f * (1.0f - repeat_weight[c]);
            }
            if (score == 0.0f || k <= 0) continue;
            if (size < k) {
                hs[size] = score;
                hi_items[size] = c;
                sift_up(hs, hi_items, size);
                size++;
            } else if (better(score, c, hs[0], hi_items[0])) {
                hs[0] = score;
                hi_items[0] = c;
                sift_down(hs, hi_items, size, 0);
            }
        }
        /* Heap order to best first: the worst goes to the end, one at a time. */
        for (int64_t end = size - 1; end > 0; end--) {
            float s = hs[0]; hs[0] = hs[end]; hs[end] = s;
            int32_t i = hi_items[0]; hi_items[0] = hi_items[end]; hi_items[end] = i;
            sift_down(hs, hi_items, end, 0);
        }
        counts[u] = size;
        for (int64_t r = 0; r < size; r++) {
            const int32_t c = hi_items[r];
            const int mine = (state[c] & OWNED) != 0;
            owned[u * k + r] = (uint8_t)mine;
            because[u * k + r] = mine ? c : (best[c] > 0.0f ? arg[c] : heavy);
        }
        for (int64_t t = 0; t < n_touched; t++) {
            const int32_t c = touched[t];
            sums[c] = 0.0f;
            best[c] = 0.0f;
            state[c] = 0;
        }
        for (int64_t e = lo; e < hi; e++) state[h_indices[e]] = 0;
        if (m_indptr) {
            for (int64_t e = m_indptr[u]; e < m_indptr[u + 1]; e++) state[m_indices[e]] = 0;
        }
    }
    free(sums); free(best); free(own); free(arg); free(touched); free(state);
    return 0;
}
