// Every image has alt text (empty for the decorative category pictures), every field a
// label, every focusable control a name; the landmarks are there; and Tab reaches every
// focusable element, starting with the skip link. Each focusable element gets data-probe.
(() => {
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const focusable = [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
    .filter((el) => !el.disabled && el.tabIndex >= 0 && visible(el));
  focusable.forEach((el, i) => { el.dataset.probe = String(i); });
  const name = (el) => (el.getAttribute('aria-label') || el.textContent || '').trim()
    || [...el.querySelectorAll('img')].map((img) => img.alt).join('').trim()
    || [...(el.labels || [])].map((label) => label.textContent).join('').trim();
  return {
    images: document.images.length,
    images_without_alt: [...document.images].filter((img) => !img.hasAttribute('alt')).map((img) => img.src),
    unlabelled_fields: [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => !(el.labels?.length || el.getAttribute('aria-label'))).map((el) => el.outerHTML),
    nameless_controls: focusable.filter((el) => !name(el)).map((el) => el.outerHTML.slice(0, 120)),
    landmarks: ['header', 'nav', 'main', 'footer'].filter((tag) => document.querySelector(tag)),
    h1: document.querySelectorAll('h1').length,
    lang: document.documentElement.lang,
    focusable: focusable.length,
  };
})()
