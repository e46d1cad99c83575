/* Agent desk accessibility (issue 28): names for the inputs the admin's widgets leave unnamed, and keyboard access
   to boxes that scroll. Runs after the admin's own scripts (select2 starts on jQuery's ready, before "load"). */
(function () {
  "use strict";

  function fieldLabel(element) {
    /* The words of the label the admin shows beside a field (its form row's label or legend). */
    const row = element.closest(".form-row, .fieldBox, fieldset > div, td");
    const label = row && row.querySelector("label, legend");
    return label ? label.textContent.replace(/:\s*$/, "").trim() : "";
  }

  function nameAutocompletes(root) {
    /* select2's combobox is labelled by its current value alone, empty when nothing is chosen. */
    root.querySelectorAll("select.admin-autocomplete").forEach(function (select) {
      const box = select.nextElementSibling;
      if (!box) return;
      const label = document.querySelector('label[for="' + select.id + '"]');
      const words = label ? label.textContent.replace(/:\s*$/, "").trim() : fieldLabel(select);
      box.querySelectorAll('[role="combobox"], [role="textbox"]').forEach(function (part) {
        if (part.getAttribute("aria-label") === words) return;  // set already: the observer must not loop
        part.removeAttribute("aria-labelledby");
        part.setAttribute("aria-label", words);
      });
    });
  }

  function nameDateTimeParts(root) {
    /* A split date and time field labels neither input; say which part of which field each one is. */
    root.querySelectorAll("p.datetime").forEach(function (paragraph) {
      const words = fieldLabel(paragraph);
      const inputs = paragraph.querySelectorAll("input");
      ["date", "time"].forEach(function (part, index) {
        if (inputs[index] && !inputs[index].labels.length) inputs[index].setAttribute("aria-label", words + ", " + part);
      });
    });
  }

  function focusableScrollBoxes(root) {
    /* A box that scrolls sideways on a phone (the admin's responsive sheet) must be reachable by Tab, or its hidden
       part is out of a keyboard's reach; it is named after its heading so the Tab stop says what it holds. */
    root.querySelectorAll(".inline-group, #changelist .results, .policy-grid-wrap").forEach(function (box) {
      if (box.hasAttribute("tabindex")) return;
      const heading = box.querySelector("h2, caption");
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", heading ? heading.textContent.trim() : "Table");
    });
  }

  function improve(root) {
    nameAutocompletes(root);
    nameDateTimeParts(root);
    focusableScrollBoxes(root);
  }

  /* select2 starts on jQuery's ready, which may come after "load": name its boxes whenever they appear. The
     observer's callback runs before the next task, so nothing reads the page between select2 and the names. */
  document.addEventListener("DOMContentLoaded", function () {
    improve(document);
    new MutationObserver(function () { nameAutocompletes(document); }).observe(document.body, { childList: true, subtree: true });
  });
  document.addEventListener("formset:added", function (event) { improve(event.target); });
})();
