/**
 * Small DOM helper shared by the views of jupyter-mlops.
 */

/**
 * Create an element with a class and text; buttons get `type="button"` so that they never
 * submit a surrounding form.
 *
 * @param tag - tag name
 * @param cls - class names (may be empty)
 * @param text - text content, if any
 * @returns the element
 */
export function element(tag: string, cls: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  if (cls) {
    node.className = cls;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  if (tag === 'button') {
    (node as HTMLButtonElement).type = 'button';
  }
  return node;
}
