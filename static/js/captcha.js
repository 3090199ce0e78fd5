// captcha.js
