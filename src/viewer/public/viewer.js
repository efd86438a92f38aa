/*
 * The slide viewer (plain browser JS, no build step). OpenSeadragon shows two tiled images on
 * the same DeepZoom grid: the slide (image.dzi) and its coloured label mask (mask.dzi) above it.
 * OpenSeadragon's DZI source copies the DZI URL's query string onto every tile URL, so the mask's
 * `style` and `classes` ride on the DZI URL. Toggling classes opens a new mask item with a new
 * query and removes the old one once the new one is fully drawn (no blank flash); opacity is the
 * item's own, so moving the slider never refetches a tile.
 *
 * State for tests and people: body[data-slide] = ready once the slide is drawn; body[data-overlay]
 * = loading | ready | failed, body[data-overlay-classes] = the classes asked for ("all" or a,b);
 * body[data-tissue] = off | loading | ready | failed for the detected-tissue layer (its own item,
 * `layer=tissue` on the same mask DZI, toggled by #toggle-tissue).
 */
(function () {
  'use strict';

  /** Scale bar lengths in micrometres: round numbers a pathologist reads at a glance. */
  const SCALE_STEPS_UM = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
  /** The longest the bar may be, in CSS pixels. */
  const SCALE_MAX_PX = 160;

  const config = JSON.parse(document.getElementById('viewer-config').textContent);
  const body = document.body;
  const legend = document.getElementById('legend');
  const statusLine = document.getElementById('overlay-status');

  const viewer = OpenSeadragon({
    element: document.getElementById('osd'),
    prefixUrl: config.osdImages,
    tileSources: config.imageDzi,
    showNavigator: true,
    navigatorPosition: 'TOP_RIGHT',
    showRotationControl: false,
    // Whole-slide images are mostly glass: keep at least part of the slide on screen.
    visibilityRatio: 0.2,
    // Up to 2 screen pixels per slide pixel: enough to see nuclei, not so much that it blurs.
    maxZoomPixelRatio: 2,
  });
  // Exposed for the browser test and the console (zoom, items, events).
  window.viewer = viewer;

  const overlay = { item: null, generation: 0 };
  const tissue = { item: null, generation: 0 };
  body.dataset.tissue = 'off';
  let opacity = config.opacity;

  viewer.addOnceHandler('open', () => {
    viewer.world.getItemAt(0).whenFullyLoaded(() => {
      body.dataset.slide = 'ready';
    });
    repointOverlay();
    updateScaleBar();
  });
  viewer.addHandler('open-failed', (e) => showStatus(`The slide could not be opened: ${e.message}`));
  viewer.addHandler('tile-load-failed', (e) => {
    if (e.tiledImage === viewer.world.getItemAt(0)) showStatus('Some slide tiles could not be loaded.');
    else if (e.tiledImage === tissue.item) setTissueState('failed', 'Some tissue tiles could not be loaded.');
    else setOverlayState('failed', 'Some mask tiles could not be loaded.');
  });
  viewer.addHandler('update-viewport', updateScaleBar);

  legend.addEventListener('change', (e) => {
    const box = e.target;
    if (box.classList.contains('toggle-category')) {
      for (const b of classBoxes(box.value)) b.checked = box.checked;
    }
    syncCategoryBoxes();
    repointOverlay();
  });

  document.getElementById('toggle-tissue').addEventListener('change', (e) => showTissue(e.target.checked));

  /** Adds the tissue layer above the slide (or removes it); a toggle during a load wins over it. */
  function showTissue(on) {
    const generation = ++tissue.generation;
    if (tissue.item) viewer.world.removeItem(tissue.item);
    tissue.item = null;
    if (!on) return setTissueState('off');
    setTissueState('loading');
    viewer.addTiledImage({
      tileSource: `${config.maskDzi}?style=color&layer=tissue`,
      opacity,
      preload: true,
      success: (e) => {
        if (generation !== tissue.generation) return viewer.world.removeItem(e.item);
        tissue.item = e.item;
        e.item.whenFullyLoaded(() => {
          if (generation === tissue.generation) setTissueState('ready');
        });
      },
      error: (e) => {
        if (generation === tissue.generation) setTissueState('failed', `The tissue could not be opened: ${e.message}`);
      },
    });
  }

  function setTissueState(state, message) {
    body.dataset.tissue = state;
    if (state === 'failed') showStatus(message);
  }

  const slider = document.getElementById('opacity');
  const sliderValue = document.getElementById('opacity-value');
  slider.addEventListener('input', () => {
    opacity = Number(slider.value) / 100;
    sliderValue.textContent = `${slider.value} %`;
    // Every mask item, the shown one and any still loading, so a swap keeps the new opacity.
    for (let i = 1; i < viewer.world.getItemCount(); i++) viewer.world.getItemAt(i).setOpacity(opacity);
  });

  /** Opens the mask with the checked classes; the previous mask stays until this one is drawn. */
  function repointOverlay() {
    const boxes = classBoxes(null);
    const names = boxes.filter((b) => b.checked).map((b) => b.value);
    const all = names.length === boxes.length;
    const generation = ++overlay.generation;
    body.dataset.overlayClasses = all ? 'all' : names.join(',');
    if (names.length === 0) {
      // An empty `classes` would mean "all" to the server: show no mask item instead.
      replaceOverlay(null);
      setOverlayState('ready');
      return;
    }
    setOverlayState('loading');
    viewer.addTiledImage({
      tileSource: maskUrl(names, all),
      opacity,
      // Load tiles even at opacity 0, so raising the slider shows the overlay at once.
      preload: true,
      success: (e) => {
        const item = e.item;
        if (generation !== overlay.generation) return viewer.world.removeItem(item);
        item.whenFullyLoaded(() => {
          if (generation !== overlay.generation) return viewer.world.removeItem(item);
          replaceOverlay(item);
          setOverlayState('ready');
        });
      },
      error: (e) => {
        if (generation === overlay.generation) setOverlayState('failed', `The mask could not be opened: ${e.message}`);
      },
    });
  }

  function replaceOverlay(item) {
    const old = overlay.item;
    overlay.item = item;
    if (old && old !== item) viewer.world.removeItem(old);
  }

  /** `classes` is omitted when every class is shown (the server's default), keeping URLs short. */
  function maskUrl(names, all) {
    const classes = all ? '' : `&classes=${names.map(encodeURIComponent).join(',')}`;
    return `${config.maskDzi}?style=color${classes}`;
  }

  /** The class checkboxes, all or those of one category. */
  function classBoxes(category) {
    const boxes = Array.from(legend.querySelectorAll('input.toggle-class'));
    return category === null ? boxes : boxes.filter((b) => b.dataset.category === category);
  }

  /** A category box is checked when all its classes are, half-checked when some are. */
  function syncCategoryBoxes() {
    for (const box of legend.querySelectorAll('input.toggle-category')) {
      const boxes = classBoxes(box.value);
      const on = boxes.filter((b) => b.checked).length;
      box.checked = on === boxes.length;
      box.indeterminate = on > 0 && on < boxes.length;
    }
  }

  function setOverlayState(state, message) {
    body.dataset.overlay = state;
    showStatus(state === 'loading' ? 'Loading overlay…' : message || '');
  }

  function showStatus(text) {
    statusLine.textContent = text;
    statusLine.hidden = text === '';
  }

  /** The longest round length that fits SCALE_MAX_PX at the current zoom (level-0 mpp). */
  function updateScaleBar() {
    const scalebar = document.getElementById('scalebar');
    const slide = viewer.world.getItemAt(0);
    if (config.mpp === null || !slide) return;
    // Screen (CSS) pixels per level-0 pixel at the zoom being drawn, not the animation's target.
    const pxPerL0 = slide.viewportToImageZoom(viewer.viewport.getZoom(true));
    const umPerPx = config.mpp / pxPerL0;
    const fits = SCALE_STEPS_UM.filter((um) => um / umPerPx <= SCALE_MAX_PX);
    const um = fits.length > 0 ? fits[fits.length - 1] : SCALE_STEPS_UM[0];
    scalebar.querySelector('.scalebar-bar').style.width = `${(um / umPerPx).toFixed(1)}px`;
    scalebar.querySelector('.scalebar-label').textContent = um >= 1000 ? `${um / 1000} mm` : `${um} µm`;
    scalebar.dataset.um = String(um);
    scalebar.hidden = false;
  }
})();
