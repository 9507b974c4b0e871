/* Ranking users: each user's top-k items, with the history item behind each.
 *
 * One user at a time against a dense scratch row of the catalogue: the user's history items
 * spread their neighbours' similarities into it (the sparse product's sums, in scipy's order),
 * the candidates are scored, a selection keeps the best k, and the reason for each new item is
 * the history item with the largest term, found by a second pass over the history's
 * neighbours for the listed items only. The numpy path made each of
 * these steps a pass over arrays as long as a block's products; here they are one pass over
 * the user's products. The arithmetic is the numpy path's, operation for operation in float32
 * (recs.algorithms.blend and knn say what it is), so both give the same bits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { TOUCHED = 1, OWNED = 2, MASKED = 4, POPULAR = 8, LISTED = 16 };

/* a ranks before b: higher score, then lower item. */
static inline int better(float sa, int32_t ia, float sb, int32_t ib) {
    return sa > sb || (sa == sb && ia < ib);
}

/* A candidate: its score and item. */
typedef struct {
    float score;
    int32_t item;
} pick;

/* Rearranges a[0..n) so that its k best come first, in no order (Hoare's selection; every
 * item is distinct, so no two picks tie). */
static void keep_best(pick *a, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        const pick pivot = a[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (better(a[i].score, a[i].item, pivot.score, pivot.item)) i++;
            while (better(pivot.score, pivot.item, a[j].score, a[j].item)) j--;
            if (i <= j) {
                const pick t = a[i]; a[i] = a[j]; a[j] = t;
                i++;
                j--;
            }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else return;
    }
}

/* The best k of a stream of candidates: those better than the k-th best of the last
 * selection are buffered, and a full buffer (2k) is cut back to its k best. Each candidate
 * costs one comparison (a heap would sift every one that enters). */
typedef struct {
    pick *buffer;
    int64_t size, k, capacity;
    int bounded;
    pick bound;
} best_k;

static inline void offer(best_k *top, float score, int32_t item) {
    if (top->bounded && !better(score, item, top->bound.score, top->bound.item)) return;
    top->buffer[top->size].score = score;
    top->buffer[top->size].item = item;
    if (++top->size < top->capacity) return;
    keep_best(top->buffer, top->size, top->k);
    top->size = top->k;
    top->bound = top->buffer[0];
    for (int64_t r = 1; r < top->k; r++) {
        if (better(top->bound.score, top->bound.item, top->buffer[r].score, top->buffer[r].item)) {
            top->bound = top->buffer[r];
        }
    }
    top->bounded = 1;
}

/* The best k, best first, into scores/items; returns how many. */
static int64_t finish(best_k *top, float *scores, int32_t *items) {
    if (top->size > top->k) {
        keep_best(top->buffer, top->size, top->k);
        top->size = top->k;
    }
    pick *a = top->buffer;
    for (int64_t r = 1; r < top->size; r++) {  /* insertion sort: k is small */
        const pick t = a[r];
        int64_t at = r;
        while (at > 0 && better(t.score, t.item, a[at - 1].score, a[at - 1].item)) {
            a[at] = a[at - 1];
            at--;
        }
        a[at] = t;
    }
    for (int64_t r = 0; r < top->size; r++) {
        scores[r] = a[r].score;
        items[r] = a[r].item;
    }
    return top->size;
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
    /* Scratch rows small enough to stay in a core's cache at a large catalogue's size:
     * the sums (4 bytes an item) and the flags (1 byte); reasons are found afterwards, for
     * the k listed items only. */
    float *sums = calloc((size_t)n_items, sizeof(float));
    uint8_t *state = calloc((size_t)n_items, 1);
    int32_t *touched = malloc((size_t)n_items * sizeof(int32_t));
    int32_t *slot = malloc((size_t)n_items * sizeof(int32_t));
    float *best = malloc((size_t)(k > 0 ? k : 1) * sizeof(float));
    best_k top = {.buffer = malloc((size_t)(2 * (k > 0 ? k : 1)) * sizeof(pick)),
                  .k = k, .capacity = 2 * k};
    if (!sums || !state || !touched || !slot || !best || !top.buffer) {
        free(sums); free(state); free(touched); free(slot); free(best); free(top.buffer);
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
                if (v > top_weight) top_weight = v;
            }
            if (mask_history && v != 0.0f) state[j] |= MASKED;
        }
        if (m_indptr) {
            for (int64_t e = m_indptr[u]; e < m_indptr[u + 1]; e++) state[m_indices[e]] |= MASKED;
        }
        /* The sparse product's sums, in scipy's order: history entries, then neighbours. */
        for (int64_t e = lo; e < hi; e++) {
            const int32_t j = h_indices[e];
            const float v = h_data[e];
            if (blend && !(v > 0.0f)) continue;  /* the blend clips the history at zero */
            for (int64_t kk = s_indptr[j]; kk < s_indptr[j + 1]; kk++) {
                const int32_t c = s_indices[kk];
                if (!(state[c] & TOUCHED)) { state[c] |= TOUCHED; touched[n_touched++] = c; }
                sums[c] += v * s_data[kk];
            }
        }
        float found_top = 0.0f;
        if (blend) {
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
        top.size = 0;
        top.bounded = 0;
        /* The blend's repeat part: the positive history over its maximum, times the item's
         * repeat weight (from the history row; the scan below skips owned items). */
        for (int64_t e = lo; blend && e < hi; e++) {
            const int32_t c = h_indices[e];
            const float v = h_data[e];
            if (!(v > 0.0f) || (state[c] & MASKED)) continue;
            float score = v / top_weight;
            score = score * repeat_weight[c];
            if (score != 0.0f && k > 0) offer(&top, score, c);
        }
        for (int64_t t = 0; t < n_touched; t++) {
            const int32_t c = touched[t];
            const uint8_t st = state[c];
            if (st & MASKED) continue;
            float score;
            if (!blend) {
                score = sums[c];
            } else if (st & OWNED) {
                continue;  /* scored above */
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
            if (score != 0.0f && k > 0) offer(&top, score, c);
        }
        int32_t *hi_items = items + u * k;
        const int64_t size = finish(&top, scores + u * k, hi_items);
        counts[u] = size;
        /* Reasons: an owned item names itself; a new one the history item with the largest
         * positive term w(u, i) sim(i, c), the first such in history order on a tie (as a
         * row's first maximum), else the heaviest history item. */
        int32_t *why = because + u * k;
        for (int64_t r = 0; r < size; r++) {
            const int32_t c = hi_items[r];
            const int mine = (state[c] & OWNED) != 0;
            owned[u * k + r] = (uint8_t)mine;
            why[r] = mine ? c : heavy;
            best[r] = 0.0f;
            if (!mine) { state[c] |= LISTED; slot[c] = (int32_t)r; }
        }
        for (int64_t e = lo; e < hi && size > 0; e++) {
            const int32_t j = h_indices[e];
            const float v = h_data[e];
            if (!(v > 0.0f)) continue;  /* a term of a non-positive weight is never the largest */
            for (int64_t kk = s_indptr[j]; kk < s_indptr[j + 1]; kk++) {
                const int32_t c = s_indices[kk];
                if (!(state[c] & LISTED)) continue;
                const float term = v * s_data[kk];
                const int32_t r = slot[c];
                if (term > best[r]) { best[r] = term; why[r] = j; }
            }
        }
        for (int64_t t = 0; t < n_touched; t++) {
            const int32_t c = touched[t];
            sums[c] = 0.0f;
            state[c] = 0;
        }
        for (int64_t e = lo; e < hi; e++) state[h_indices[e]] = 0;
        if (m_indptr) {
            for (int64_t e = m_indptr[u]; e < m_indptr[u + 1]; e++) state[m_indices[e]] = 0;
        }
    }
    free(sums); free(state); free(touched); free(slot); free(best); free(top.buffer);
    return 0;
}
