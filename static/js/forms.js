// forms.js
